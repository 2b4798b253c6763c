-- =============================================================================
-- Website chat widget, part 1: the chat kind `widget`.
--
-- A visitor's conversation on an owner's website is a chat of its own kind, so
-- that the social features (direct, group and assistant chats) can tell it
-- apart. PostgreSQL cannot use an enum value added in the same transaction
-- (https://www.postgresql.org/docs/current/sql-altertype.html: "an enum value
-- added by ALTER TYPE ... ADD VALUE cannot be used until the transaction has
-- been committed"), and the CLI applies each migration file in its own
-- transaction: the value is added here, alone, and used by
-- 20261202130100_widget.sql.
-- =============================================================================

alter type public.chat_kind add value if not exists 'widget';
