
export type Json = string | number | boolean | null | { [key: string]: Json | undefined } | Json[]

export type Database = {
  
  "private": {
          Tables: {
            "chat_publications": {
                  Row: {
                    "chat_id": string,"shared_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "chat_id": string,"shared_id": string
                  }
                  Update: {
                    "chat_id"?: string,"shared_id"?: string
                  }
                  Relationships: [
                    
                  ]
                },"identity_hash_key": {
                  Row: {
                    "id": boolean,"key": string
                  }
                  ComputedFields: never
                  Insert: {
                    "id"?: boolean,"key"?: string
                  }
                  Update: {
                    "id"?: boolean,"key"?: string
                  }
                  Relationships: [
                    
                  ]
                },"media_deletions": {
                  Row: {
                    "attempts": number,"deleted_at": string | null,"last_attempt_at": string | null,"last_error": string | null,"public_id": string,"queued_at": string,"reason": string,"resource_type": string
                  }
                  ComputedFields: never
                  Insert: {
                    "attempts"?: number,"deleted_at"?: string | null,"last_attempt_at"?: string | null,"last_error"?: string | null,"public_id": string,"queued_at"?: string,"reason": string,"resource_type": string
                  }
                  Update: {
                    "attempts"?: number,"deleted_at"?: string | null,"last_attempt_at"?: string | null,"last_error"?: string | null,"public_id"?: string,"queued_at"?: string,"reason"?: string,"resource_type"?: string
                  }
                  Relationships: [
                    
                  ]
                },"phone_lookup_hashes": {
                  Row: {
                    "phone_hash": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "phone_hash": string,"user_id": string
                  }
                  Update: {
                    "phone_hash"?: string,"user_id"?: string
                  }
                  Relationships: [
                    
                  ]
                },"push_deliveries": {
                  Row: {
                    "device_id": string,"fcm_message_name": string,"outbox_id": number,"sent_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "device_id": string,"fcm_message_name": string,"outbox_id": number,"sent_at"?: string
                  }
                  Update: {
                    "device_id"?: string,"fcm_message_name"?: string,"outbox_id"?: number,"sent_at"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "push_deliveries_outbox_id_fkey"
      columns: ["outbox_id"]
isOneToOne: false
      referencedRelation: "push_outbox"
      referencedColumns: ["id"]
    }
                  ]
                },"push_outbox": {
                  Row: {
                    "attempts": number,"body": string,"claimed_until": string | null,"collapse_key": string,"created_at": string,"data": NonNullable<Json>,"event_count": number,"id": number,"kind": string,"last_error": string | null,"next_attempt_at": string,"sent_at": string | null,"status": string,"title": string,"updated_at": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "attempts"?: number,"body": string,"claimed_until"?: string | null,"collapse_key": string,"created_at"?: string,"data"?: NonNullable<Json>,"event_count"?: number,"id"?: never,"kind": string,"last_error"?: string | null,"next_attempt_at"?: string,"sent_at"?: string | null,"status"?: string,"title": string,"updated_at"?: string,"user_id": string
                  }
                  Update: {
                    "attempts"?: number,"body"?: string,"claimed_until"?: string | null,"collapse_key"?: string,"created_at"?: string,"data"?: NonNullable<Json>,"event_count"?: number,"id"?: never,"kind"?: string,"last_error"?: string | null,"next_attempt_at"?: string,"sent_at"?: string | null,"status"?: string,"title"?: string,"updated_at"?: string,"user_id"?: string
                  }
                  Relationships: [
                    
                  ]
                },"rate_limit_counters": {
                  Row: {
                    "action": string,"hits": number,"user_id": string,"window_start": string
                  }
                  ComputedFields: never
                  Insert: {
                    "action": string,"hits": number,"user_id": string,"window_start": string
                  }
                  Update: {
                    "action"?: string,"hits"?: number,"user_id"?: string,"window_start"?: string
                  }
                  Relationships: [
                    
                  ]
                },"welcome_grant_days": {
                  Row: {
                    "day": string,"granted_micro_usd": number
                  }
                  ComputedFields: never
                  Insert: {
                    "day": string,"granted_micro_usd": number
                  }
                  Update: {
                    "day"?: string,"granted_micro_usd"?: number
                  }
                  Relationships: [
                    
                  ]
                },"welcome_identities": {
                  Row: {
                    "first_seen_at": string,"identity_hash": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "first_seen_at"?: string,"identity_hash": string,"user_id": string
                  }
                  Update: {
                    "first_seen_at"?: string,"identity_hash"?: string,"user_id"?: string
                  }
                  Relationships: [
                    
                  ]
                },"widget_rate_counters": {
                  Row: {
                    "action": string,"hits": number,"subject": string,"window_start": string
                  }
                  ComputedFields: never
                  Insert: {
                    "action": string,"hits": number,"subject": string,"window_start": string
                  }
                  Update: {
                    "action"?: string,"hits"?: number,"subject"?: string,"window_start"?: string
                  }
                  Relationships: [
                    
                  ]
                }
          }
          Views: {
            [_ in never]: never
          }
          Functions: {
            "admin_change_credits":
{ Args: { "p_amount_micro_usd": number,"p_deduct": boolean,"p_reason": string,"p_user_id": string }; Returns: number
                           },
"ai_chat_conversation":
{ Args: { "p_chat_id": string,"p_history_limit": number,"p_model_id": string,"p_user_id": string }; Returns: {
              "caller_name": string,"chat_id": string,"chat_kind": Database["public"]['Enums']["chat_kind"],"history": Json,"model": Json
            }[]
                           },
"ai_chat_title":
{ Args: { "p_prompt": string }; Returns: string
                           },
"ai_cost_micro_usd":
{ Args: { "p_cached_input_micro_usd_per_mtok": number,"p_cached_prompt_tokens": number,"p_completion_tokens": number,"p_input_micro_usd_per_mtok": number,"p_output_micro_usd_per_mtok": number,"p_prompt_tokens": number }; Returns: number
                           },
"ai_last_prompt":
{ Args: { "p_chat_id": string,"p_user_id": string }; Returns: {
              "content": string,"message_id": string
            }[]
                           },
"ai_model_fallback":
{ Args: { "p_model_id": string }; Returns: {
              "context_window": number,"id": string,"max_output_tokens": number,"provider": Database["public"]['Enums']["ai_provider"],"request_options": Json
            }[]
                           },
"apply_payment_refunds":
{ Args: { "p_event_id": string,"p_payment_id": string }; Returns: string
                           },
"assert_group_manager":
{ Args: { "p_chat_id": string }; Returns: Database["public"]['Enums']["chat_member_role"]
                           },
"assert_user_exists":
{ Args: { "p_user_id": string }; Returns: undefined
                           },
"audit":
{ Args: { "p_action": string,"p_actor": string,"p_details"?: Json,"p_reason": string,"p_target_id": string,"p_target_user_id": string }; Returns: number
                           },
"blocked_user_ids":
{ Args: Record<PropertyKey, never>; Returns: string[]
                           },
"caller_is_outsider":
{ Args: { "p_chat_id": string,"p_sender_id": string }; Returns: boolean
                           },
"caller_is_suspended":
{ Args: Record<PropertyKey, never>; Returns: boolean
                           },
"chat_topic":
{ Args: { "p_chat_id": string }; Returns: string
                           },
"claim_media_deletions":
{ Args: { "p_limit"?: number,"p_retry_after"?: string }; Returns: {
              "attempts": number,"public_id": string,"resource_type": string
            }[]
                           },
"claim_push_batch":
{ Args: { "p_limit"?: number }; Returns: {
              "attempts": number,"badge": number,"body": string,"collapse_key": string,"data": Json,"devices": Json,"event_count": number,"id": number,"kind": string,"title": string,"user_id": string
            }[]
                           },
"clerk_delete_user":
{ Args: { "p_event_id": string,"p_occurred_at"?: string,"p_user_id": string }; Returns: string
                           },
"clerk_sync_phone":
{ Args: { "p_phone_number": string,"p_user_id": string }; Returns: boolean
                           },
"clerk_upsert_user":
{ Args: { "p_auth_provider": string,"p_avatar_url": string,"p_clerk_updated_at": string,"p_display_name": string,"p_email": string,"p_event_id": string,"p_event_type": string,"p_is_admin": boolean,"p_occurred_at"?: string,"p_user_id": string,"p_username": string,"p_verified_identities"?: (string)[] }; Returns: string
                           },
"config_bigint":
{ Args: { "p_default": number,"p_key": string }; Returns: number
                           },
"create_pending_payment":
{ Args: { "p_amount_minor": number,"p_credits_micro_usd": number,"p_currency": string,"p_pack_id": string,"p_session_id": string,"p_user_id": string }; Returns: Database["public"]['Tables']["payments"]['Row']
                          SetofOptions: {
        from: "*"
        to: "payments"
        isOneToOne: true
        isSetofReturn: false
      } },
"current_user_id":
{ Args: Record<PropertyKey, never>; Returns: string
                           },
"enqueue_push":
{ Args: { "p_body": string,"p_collapse_key": string,"p_data": Json,"p_kind": string,"p_title": string,"p_user_id": string }; Returns: undefined
                           },
"excluded_story_ids":
{ Args: Record<PropertyKey, never>; Returns: string[]
                           },
"expire_ai_interactions":
{ Args: { "p_user_id"?: string }; Returns: number
                           },
"expire_reservations":
{ Args: { "p_user_id"?: string }; Returns: number
                           },
"fail_ai_interaction":
{ Args: { "p_error": string,"p_error_code": string,"p_interaction_id": string,"p_latency_ms"?: number,"p_time_to_first_token_ms"?: number }; Returns: Database["public"]['Tables']["ai_interactions"]['Row']
                          SetofOptions: {
        from: "*"
        to: "ai_interactions"
        isOneToOne: true
        isSetofReturn: false
      } },
"fallback_ai_interaction":
{ Args: { "p_error"?: string,"p_error_code": string,"p_estimated_prompt_tokens": number,"p_fallback_model_id": string,"p_interaction_id": string,"p_latency_ms"?: number,"p_min_hold_seconds"?: number }; Returns: Database["public"]['Tables']["ai_interactions"]['Row'][]
                          SetofOptions: {
        from: "*"
        to: "ai_interactions"
        isOneToOne: false
        isSetofReturn: true
      } },
"finish_ai_interaction":
{ Args: { "p_answer": string,"p_cached_prompt_tokens": number,"p_client_disconnected"?: boolean,"p_completion_tokens": number,"p_error"?: string,"p_error_code"?: string,"p_finish_reason"?: string,"p_interaction_id": string,"p_latency_ms"?: number,"p_prompt": string,"p_prompt_tokens": number,"p_provider_response_id"?: string,"p_time_to_first_token_ms"?: number,"p_usage_estimated"?: boolean }; Returns: Database["public"]['Tables']["ai_interactions"]['Row']
                          SetofOptions: {
        from: "*"
        to: "ai_interactions"
        isOneToOne: true
        isSetofReturn: false
      } },
"finish_ai_interaction_titled":
{ Args: { "p_answer": string,"p_cached_prompt_tokens": number,"p_chat_id": string,"p_client_disconnected"?: boolean,"p_completion_tokens": number,"p_error"?: string,"p_error_code"?: string,"p_finish_reason"?: string,"p_interaction_id": string,"p_latency_ms"?: number,"p_prompt": string,"p_prompt_tokens": number,"p_provider_response_id"?: string,"p_time_to_first_token_ms"?: number,"p_usage_estimated"?: boolean }; Returns: {
              "chat_title": string,"interaction": Database["public"]['Tables']["ai_interactions"]['Row']
            }[]
                           },
"finish_ai_regeneration":
{ Args: { "p_answer": string,"p_cached_prompt_tokens": number,"p_client_disconnected"?: boolean,"p_completion_tokens": number,"p_error"?: string,"p_error_code"?: string,"p_finish_reason"?: string,"p_interaction_id": string,"p_latency_ms"?: number,"p_prompt": string,"p_prompt_message_id": string,"p_prompt_tokens": number,"p_provider_response_id"?: string,"p_time_to_first_token_ms"?: number,"p_usage_estimated"?: boolean }; Returns: Database["public"]['Tables']["ai_interactions"]['Row']
                          SetofOptions: {
        from: "*"
        to: "ai_interactions"
        isOneToOne: true
        isSetofReturn: false
      } },
"finish_media_deletion":
{ Args: { "p_error"?: string,"p_public_id": string,"p_resource_type": string }; Returns: undefined
                           },
"finish_push":
{ Args: { "p_delivered"?: (string)[],"p_error"?: string,"p_id": number,"p_message_names"?: (string)[],"p_removed"?: (string)[],"p_retry_after_seconds"?: number }; Returns: string
                           },
"friend_ids":
{ Args: Record<PropertyKey, never>; Returns: string[]
                           },
"grant_welcome_credits":
{ Args: { "p_identities": (string)[],"p_user_id": string }; Returns: string
                           },
"identity_hash":
{ Args: { "p_identity": string }; Returns: string
                           },
"is_admin":
{ Args: Record<PropertyKey, never>; Returns: boolean
                           },
"is_blocked_between":
{ Args: { "p_a": string,"p_b": string }; Returns: boolean
                           },
"ledger_mismatches":
{ Args: Record<PropertyKey, never>; Returns: {
              "balance_micro_usd": number,"ledger_sum_micro_usd": number,"user_id": string
            }[]
                           },
"lock_message_for_reaction":
{ Args: { "p_me": string,"p_message_id": string }; Returns: Database["public"]['Tables']["messages"]['Row']
                          SetofOptions: {
        from: "*"
        to: "messages"
        isOneToOne: true
        isSetofReturn: false
      } },
"lock_out_suspended_users":
{ Args: { "p_table": unknown }; Returns: undefined
                           },
"mark_payment_paid":
{ Args: { "p_amount_total": number,"p_event_id": string,"p_payment_id": string }; Returns: string
                           },
"media_max_bytes":
{ Args: { "p_purpose": string }; Returns: number
                           },
"message_for_pinning":
{ Args: { "p_me": string,"p_message_id": string }; Returns: Database["public"]['Tables']["messages"]['Row']
                          SetofOptions: {
        from: "*"
        to: "messages"
        isOneToOne: true
        isSetofReturn: false
      } },
"my_chat_id_array":
{ Args: Record<PropertyKey, never>; Returns: (string)[]
                           },
"my_chat_ids":
{ Args: Record<PropertyKey, never>; Returns: string[]
                           },
"my_chat_role":
{ Args: { "p_chat_id": string }; Returns: Database["public"]['Enums']["chat_member_role"]
                           },
"my_cleared_at":
{ Args: { "p_chat_id": string }; Returns: string
                           },
"my_membership_for_update":
{ Args: { "p_chat_id": string,"p_me": string }; Returns: Database["public"]['Tables']["chat_members"]['Row']
                          SetofOptions: {
        from: "*"
        to: "chat_members"
        isOneToOne: true
        isSetofReturn: false
      } },
"my_website_ids":
{ Args: Record<PropertyKey, never>; Returns: (string)[]
                           },
"my_widget_session":
{ Args: { "p_chat_id": string }; Returns: Database["public"]['Tables']["widget_sessions"]['Row']
                          SetofOptions: {
        from: "*"
        to: "widget_sessions"
        isOneToOne: true
        isSetofReturn: false
      } },
"new_widget_key":
{ Args: Record<PropertyKey, never>; Returns: string
                           },
"notify":
{ Args: { "p_kind": string,"p_payload": Json,"p_user_id": string }; Returns: string
                           },
"phone_lookup_hash":
{ Args: { "p_sha256_hex": string }; Returns: string
                           },
"prefix_tsquery":
{ Args: { "p_query": string }; Returns: unknown
                           },
"purge_expired_stories":
{ Args: { "p_grace"?: string }; Returns: number
                           },
"queue_media_deletion":
{ Args: { "p_public_id": string,"p_reason": string,"p_resource_type": string }; Returns: undefined
                           },
"rate_limit":
{ Args: { "p_action": string }; Returns: undefined
                           },
"realtime_member_chat":
{ Args: { "p_topic": string }; Returns: string
                           },
"realtime_receive_extensions":
{ Args: { "p_topic": string }; Returns: (string)[]
                           },
"realtime_send_extensions":
{ Args: { "p_topic": string }; Returns: (string)[]
                           },
"record_cloudinary_upload":
{ Args: { "p_bytes": number,"p_event_id": string,"p_format": string,"p_height": number,"p_occurred_at": string,"p_original_filename": string,"p_owner_id": string,"p_public_id": string,"p_purpose": string,"p_refusal"?: string,"p_resource_type": string,"p_secure_url": string,"p_width": number }; Returns: {
              "media_id": string,"outcome": string
            }[]
                           },
"record_ledger_entry":
{ Args: { "p_amount_micro_usd": number,"p_description"?: string,"p_kind": Database["public"]['Enums']["ledger_entry_kind"],"p_metadata"?: Json,"p_source": string,"p_source_id": string,"p_user_id": string }; Returns: Database["public"]['Tables']["credit_ledger"]['Row']
                          SetofOptions: {
        from: "*"
        to: "credit_ledger"
        isOneToOne: true
        isSetofReturn: false
      } },
"record_webhook_event":
{ Args: { "p_event_id": string,"p_occurred_at"?: string,"p_outcome"?: string,"p_provider": string,"p_subject_id"?: string,"p_type": string }; Returns: boolean
                           },
"release_reservation":
{ Args: { "p_reservation_id": string }; Returns: Database["public"]['Tables']["credit_reservations"]['Row']
                          SetofOptions: {
        from: "*"
        to: "credit_reservations"
        isOneToOne: true
        isSetofReturn: false
      } },
"require_admin":
{ Args: Record<PropertyKey, never>; Returns: string
                           },
"require_admin_over":
{ Args: { "p_user_id": string }; Returns: string
                           },
"require_user_id":
{ Args: Record<PropertyKey, never>; Returns: string
                           },
"reserve_credits":
{ Args: { "p_amount_micro_usd": number,"p_purpose"?: string,"p_reference"?: string,"p_ttl_seconds"?: number,"p_user_id": string }; Returns: Database["public"]['Tables']["credit_reservations"]['Row']
                          SetofOptions: {
        from: "*"
        to: "credit_reservations"
        isOneToOne: true
        isSetofReturn: false
      } },
"settle_ai_interaction":
{ Args: { "p_answer_message_id"?: string,"p_cached_prompt_tokens": number,"p_client_disconnected"?: boolean,"p_completion_tokens": number,"p_error"?: string,"p_error_code"?: string,"p_finish_reason"?: string,"p_interaction_id": string,"p_latency_ms"?: number,"p_prompt_message_id"?: string,"p_prompt_tokens": number,"p_provider_response_id"?: string,"p_time_to_first_token_ms"?: number,"p_usage_estimated"?: boolean }; Returns: Database["public"]['Tables']["ai_interactions"]['Row']
                          SetofOptions: {
        from: "*"
        to: "ai_interactions"
        isOneToOne: true
        isSetofReturn: false
      } },
"settle_reservation":
{ Args: { "p_cost_micro_usd": number,"p_description"?: string,"p_metadata"?: Json,"p_reservation_id": string,"p_source": string,"p_source_id": string }; Returns: Database["public"]['Tables']["credit_reservations"]['Row']
                          SetofOptions: {
        from: "*"
        to: "credit_reservations"
        isOneToOne: true
        isSetofReturn: false
      } },
"start_ai_interaction":
{ Args: { "p_chat_id": string,"p_context_messages"?: number,"p_estimated_prompt_tokens": number,"p_min_hold_seconds"?: number,"p_model_id": string,"p_request_id"?: string,"p_stream"?: boolean,"p_user_id": string }; Returns: Database["public"]['Tables']["ai_interactions"]['Row']
                          SetofOptions: {
        from: "*"
        to: "ai_interactions"
        isOneToOne: true
        isSetofReturn: false
      } },
"story_media":
{ Args: { "p_story_id": string }; Returns: {
              "resource_type": string,"secure_url": string
            }[]
                           },
"stripe_async_payment_failed":
{ Args: { "p_event_id": string,"p_occurred_at"?: string,"p_payment_intent_id": string,"p_session_id": string }; Returns: string
                           },
"stripe_async_payment_succeeded":
{ Args: { "p_amount_total": number,"p_event_id": string,"p_occurred_at"?: string,"p_payment_intent_id": string,"p_payment_status": string,"p_session_id": string }; Returns: string
                           },
"stripe_charge_refunded":
{ Args: { "p_amount_minor": number,"p_amount_refunded_minor": number,"p_charge_id": string,"p_currency": string,"p_event_id": string,"p_occurred_at"?: string,"p_payment_intent_id": string }; Returns: string
                           },
"stripe_checkout_completed":
{ Args: { "p_amount_total": number,"p_event_id": string,"p_occurred_at"?: string,"p_payment_intent_id": string,"p_payment_status": string,"p_session_id": string }; Returns: string
                           },
"stripe_checkout_expired":
{ Args: { "p_event_id": string,"p_occurred_at"?: string,"p_session_id": string }; Returns: string
                           },
"stripe_event_outcome":
{ Args: { "p_event_id": string,"p_outcome": string }; Returns: string
                           },
"stripe_lock_payment":
{ Args: { "p_payment_intent_id": string,"p_session_id": string }; Returns: Database["public"]['Tables']["payments"]['Row']
                          SetofOptions: {
        from: "*"
        to: "payments"
        isOneToOne: true
        isSetofReturn: false
      } },
"stripe_session_paid_event":
{ Args: { "p_amount_total": number,"p_event_id": string,"p_event_type": string,"p_occurred_at": string,"p_payment_intent_id": string,"p_payment_status": string,"p_session_id": string }; Returns: string
                           },
"unread_message_total":
{ Args: { "p_user_id": string }; Returns: number
                           },
"user_topic":
{ Args: { "p_user_id": string }; Returns: string
                           },
"visible_story_author":
{ Args: { "p_story_id": string }; Returns: string
                           },
"widget_end_session":
{ Args: { "p_session_id": string }; Returns: undefined
                           },
"widget_finish_bot_answer":
{ Args: { "p_answer": string,"p_cached_prompt_tokens": number,"p_completion_tokens": number,"p_error"?: string,"p_error_code"?: string,"p_finish_reason": string,"p_interaction_id": string,"p_latency_ms": number,"p_prompt_message_id": string,"p_prompt_tokens": number,"p_provider_response_id": string,"p_session_id": string,"p_time_to_first_token_ms": number,"p_usage_estimated": boolean }; Returns: Database["public"]['Tables']["ai_interactions"]['Row']
                          SetofOptions: {
        from: "*"
        to: "ai_interactions"
        isOneToOne: true
        isSetofReturn: false
      } },
"widget_hand_off":
{ Args: { "p_reason": string,"p_session_id": string }; Returns: undefined
                           },
"widget_messages":
{ Args: { "p_after"?: string,"p_after_id"?: string,"p_limit"?: number,"p_session_id": string }; Returns: {
              "content": string,"created_at": string,"id": string,"role": string
            }[]
                           },
"widget_origin_known":
{ Args: { "p_origin": string }; Returns: boolean
                           },
"widget_origins_valid":
{ Args: { "p_origins": (string)[] }; Returns: boolean
                           },
"widget_rate_limit":
{ Args: { "p_action": string,"p_subject": string }; Returns: undefined
                           },
"widget_session":
{ Args: { "p_origin": string,"p_secret_hash": string }; Returns: {
              "owner_id": string,"session": Database["public"]['Tables']["widget_sessions"]['Row'],"settings": Json,"website_name": string
            }[]
                           },
"widget_settings_valid":
{ Args: { "p_settings": Json }; Returns: boolean
                           },
"widget_start_session":
{ Args: { "p_ip_hash": string,"p_origin": string,"p_secret_hash": string,"p_widget_key": string }; Returns: {
              "session": Database["public"]['Tables']["widget_sessions"]['Row'],"settings": Json,"website_name": string
            }[]
                           },
"widget_visitor_message":
{ Args: { "p_content": string,"p_ip_hash": string,"p_session_id": string }; Returns: {
              "bot_may_answer": boolean,"bot_refusal": string,"message": Database["public"]['Tables']["messages"]['Row']
            }[]
                           }
          }
          Enums: {
            [_ in never]: never
          }
          CompositeTypes: {
            [_ in never]: never
          }
        },"public": {
          Tables: {
            "admin_audit_log": {
                  Row: {
                    "action": string,"actor": string,"created_at": string,"details": NonNullable<Json>,"id": number,"reason": string,"target_id": string | null,"target_user_id": string | null
                  }
                  ComputedFields: never
                  Insert: {
                    "action": string,"actor": string,"created_at"?: string,"details"?: NonNullable<Json>,"id"?: never,"reason": string,"target_id"?: string | null,"target_user_id"?: string | null
                  }
                  Update: {
                    "action"?: string,"actor"?: string,"created_at"?: string,"details"?: NonNullable<Json>,"id"?: never,"reason"?: string,"target_id"?: string | null,"target_user_id"?: string | null
                  }
                  Relationships: [
                    
                  ]
                },"admin_config": {
                  Row: {
                    "description": string,"key": string,"max_value": number | null,"min_value": number | null,"updated_at": string,"updated_by": string | null,"value": NonNullable<Json>,"value_type": string
                  }
                  ComputedFields: never
                  Insert: {
                    "description"?: string,"key": string,"max_value"?: number | null,"min_value"?: number | null,"updated_at"?: string,"updated_by"?: string | null,"value": NonNullable<Json>,"value_type"?: string
                  }
                  Update: {
                    "description"?: string,"key"?: string,"max_value"?: number | null,"min_value"?: number | null,"updated_at"?: string,"updated_by"?: string | null,"value"?: NonNullable<Json>,"value_type"?: string
                  }
                  Relationships: [
                    
                  ]
                },"ai_interaction_attempts": {
                  Row: {
                    "attempt": number,"created_at": string,"error": string | null,"error_code": string,"id": number,"interaction_id": string,"latency_ms": number | null,"model": string,"provider": Database["public"]['Enums']["ai_provider"],"reserved_micro_usd": number,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "attempt": number,"created_at"?: string,"error"?: string | null,"error_code": string,"id"?: never,"interaction_id": string,"latency_ms"?: number | null,"model": string,"provider": Database["public"]['Enums']["ai_provider"],"reserved_micro_usd"?: number,"user_id": string
                  }
                  Update: {
                    "attempt"?: number,"created_at"?: string,"error"?: string | null,"error_code"?: string,"id"?: never,"interaction_id"?: string,"latency_ms"?: number | null,"model"?: string,"provider"?: Database["public"]['Enums']["ai_provider"],"reserved_micro_usd"?: number,"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "ai_interaction_attempts_interaction_id_fkey"
      columns: ["interaction_id"]
isOneToOne: false
      referencedRelation: "ai_interactions"
      referencedColumns: ["id"]
    }
                  ]
                },"ai_interactions": {
                  Row: {
                    "answer_message_id": string | null,"cached_input_micro_usd_per_mtok": number | null,"cached_prompt_tokens": number | null,"charged_micro_usd": number | null,"chat_id": string | null,"client_disconnected": boolean,"completion_tokens": number | null,"context_messages": number,"cost_micro_usd": number | null,"created_at": string,"error": string | null,"error_code": string | null,"estimated_prompt_tokens": number,"finish_reason": string | null,"finished_at": string | null,"id": string,"input_micro_usd_per_mtok": number,"latency_ms": number | null,"max_output_tokens": number,"model": string,"output_micro_usd_per_mtok": number,"prompt_message_id": string | null,"prompt_tokens": number | null,"provider": Database["public"]['Enums']["ai_provider"],"provider_response_id": string | null,"request_id": string | null,"reservation_id": string | null,"reserved_micro_usd": number,"status": Database["public"]['Enums']["ai_interaction_status"],"stream": boolean,"time_to_first_token_ms": number | null,"usage_estimated": boolean,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "answer_message_id"?: string | null,"cached_input_micro_usd_per_mtok"?: number | null,"cached_prompt_tokens"?: number | null,"charged_micro_usd"?: number | null,"chat_id"?: string | null,"client_disconnected"?: boolean,"completion_tokens"?: number | null,"context_messages"?: number,"cost_micro_usd"?: number | null,"created_at"?: string,"error"?: string | null,"error_code"?: string | null,"estimated_prompt_tokens": number,"finish_reason"?: string | null,"finished_at"?: string | null,"id"?: string,"input_micro_usd_per_mtok": number,"latency_ms"?: number | null,"max_output_tokens": number,"model": string,"output_micro_usd_per_mtok": number,"prompt_message_id"?: string | null,"prompt_tokens"?: number | null,"provider": Database["public"]['Enums']["ai_provider"],"provider_response_id"?: string | null,"request_id"?: string | null,"reservation_id"?: string | null,"reserved_micro_usd"?: number,"status"?: Database["public"]['Enums']["ai_interaction_status"],"stream": boolean,"time_to_first_token_ms"?: number | null,"usage_estimated"?: boolean,"user_id": string
                  }
                  Update: {
                    "answer_message_id"?: string | null,"cached_input_micro_usd_per_mtok"?: number | null,"cached_prompt_tokens"?: number | null,"charged_micro_usd"?: number | null,"chat_id"?: string | null,"client_disconnected"?: boolean,"completion_tokens"?: number | null,"context_messages"?: number,"cost_micro_usd"?: number | null,"created_at"?: string,"error"?: string | null,"error_code"?: string | null,"estimated_prompt_tokens"?: number,"finish_reason"?: string | null,"finished_at"?: string | null,"id"?: string,"input_micro_usd_per_mtok"?: number,"latency_ms"?: number | null,"max_output_tokens"?: number,"model"?: string,"output_micro_usd_per_mtok"?: number,"prompt_message_id"?: string | null,"prompt_tokens"?: number | null,"provider"?: Database["public"]['Enums']["ai_provider"],"provider_response_id"?: string | null,"request_id"?: string | null,"reservation_id"?: string | null,"reserved_micro_usd"?: number,"status"?: Database["public"]['Enums']["ai_interaction_status"],"stream"?: boolean,"time_to_first_token_ms"?: number | null,"usage_estimated"?: boolean,"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "ai_interactions_answer_message_id_fkey"
      columns: ["answer_message_id"]
isOneToOne: false
      referencedRelation: "messages"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "ai_interactions_chat_id_fkey"
      columns: ["chat_id"]
isOneToOne: false
      referencedRelation: "chats"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "ai_interactions_prompt_message_id_fkey"
      columns: ["prompt_message_id"]
isOneToOne: false
      referencedRelation: "messages"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "ai_interactions_reservation_id_fkey"
      columns: ["reservation_id"]
isOneToOne: false
      referencedRelation: "credit_reservations"
      referencedColumns: ["id"]
    }
                  ]
                },"ai_model_fallbacks": {
                  Row: {
                    "created_at": string,"fallback_model_id": string,"model_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "created_at"?: string,"fallback_model_id": string,"model_id": string
                  }
                  Update: {
                    "created_at"?: string,"fallback_model_id"?: string,"model_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "ai_model_fallbacks_fallback_model_id_fkey"
      columns: ["fallback_model_id"]
isOneToOne: false
      referencedRelation: "ai_models"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "ai_model_fallbacks_model_id_fkey"
      columns: ["model_id"]
isOneToOne: true
      referencedRelation: "ai_models"
      referencedColumns: ["id"]
    }
                  ]
                },"ai_models": {
                  Row: {
                    "cached_input_micro_usd_per_mtok": number | null,"context_window": number,"created_at": string,"display_name": string,"enabled": boolean,"id": string,"input_micro_usd_per_mtok": number,"is_default": boolean,"max_output_tokens": number,"output_micro_usd_per_mtok": number,"price_source": string,"provider": Database["public"]['Enums']["ai_provider"],"request_options": NonNullable<Json>,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "cached_input_micro_usd_per_mtok"?: number | null,"context_window": number,"created_at"?: string,"display_name": string,"enabled"?: boolean,"id": string,"input_micro_usd_per_mtok": number,"is_default"?: boolean,"max_output_tokens": number,"output_micro_usd_per_mtok": number,"price_source"?: string,"provider": Database["public"]['Enums']["ai_provider"],"request_options"?: NonNullable<Json>,"updated_at"?: string
                  }
                  Update: {
                    "cached_input_micro_usd_per_mtok"?: number | null,"context_window"?: number,"created_at"?: string,"display_name"?: string,"enabled"?: boolean,"id"?: string,"input_micro_usd_per_mtok"?: number,"is_default"?: boolean,"max_output_tokens"?: number,"output_micro_usd_per_mtok"?: number,"price_source"?: string,"provider"?: Database["public"]['Enums']["ai_provider"],"request_options"?: NonNullable<Json>,"updated_at"?: string
                  }
                  Relationships: [
                    
                  ]
                },"ai_suggestions": {
                  Row: {
                    "chat_id": string,"created_at": string,"id": string,"interaction_id": string | null,"last_message_id": string,"model": string,"suggestions": (string)[],"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "chat_id": string,"created_at"?: string,"id"?: string,"interaction_id"?: string | null,"last_message_id": string,"model": string,"suggestions": (string)[],"user_id": string
                  }
                  Update: {
                    "chat_id"?: string,"created_at"?: string,"id"?: string,"interaction_id"?: string | null,"last_message_id"?: string,"model"?: string,"suggestions"?: (string)[],"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "ai_suggestions_chat_id_fkey"
      columns: ["chat_id"]
isOneToOne: false
      referencedRelation: "chats"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "ai_suggestions_interaction_id_fkey"
      columns: ["interaction_id"]
isOneToOne: false
      referencedRelation: "ai_interactions"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "ai_suggestions_last_message_id_fkey"
      columns: ["last_message_id"]
isOneToOne: false
      referencedRelation: "messages"
      referencedColumns: ["id"]
    }
                  ]
                },"chat_ai_settings": {
                  Row: {
                    "assistant_enabled": boolean,"chat_id": string,"updated_at": string,"updated_by": string | null
                  }
                  ComputedFields: never
                  Insert: {
                    "assistant_enabled"?: boolean,"chat_id": string,"updated_at"?: string,"updated_by"?: string | null
                  }
                  Update: {
                    "assistant_enabled"?: boolean,"chat_id"?: string,"updated_at"?: string,"updated_by"?: string | null
                  }
                  Relationships: [
                    {
      foreignKeyName: "chat_ai_settings_chat_id_fkey"
      columns: ["chat_id"]
isOneToOne: true
      referencedRelation: "chats"
      referencedColumns: ["id"]
    }
                  ]
                },"chat_members": {
                  Row: {
                    "archived_at": string | null,"chat_id": string,"cleared_at": string | null,"joined_at": string,"last_delivered_at": string | null,"last_read_at": string | null,"last_read_message_id": string | null,"muted_until": string | null,"pinned_at": string | null,"role": Database["public"]['Enums']["chat_member_role"],"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "archived_at"?: string | null,"chat_id": string,"cleared_at"?: string | null,"joined_at"?: string,"last_delivered_at"?: string | null,"last_read_at"?: string | null,"last_read_message_id"?: string | null,"muted_until"?: string | null,"pinned_at"?: string | null,"role"?: Database["public"]['Enums']["chat_member_role"],"user_id": string
                  }
                  Update: {
                    "archived_at"?: string | null,"chat_id"?: string,"cleared_at"?: string | null,"joined_at"?: string,"last_delivered_at"?: string | null,"last_read_at"?: string | null,"last_read_message_id"?: string | null,"muted_until"?: string | null,"pinned_at"?: string | null,"role"?: Database["public"]['Enums']["chat_member_role"],"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "chat_members_chat_id_fkey"
      columns: ["chat_id"]
isOneToOne: false
      referencedRelation: "chats"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "chat_members_last_read_message_id_fkey"
      columns: ["last_read_message_id"]
isOneToOne: false
      referencedRelation: "messages"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "chat_members_user_id_fkey"
      columns: ["user_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"chats": {
                  Row: {
                    "avatar_url": string | null,"created_at": string,"created_by": string | null,"description": string | null,"direct_key": string | null,"id": string,"kind": Database["public"]['Enums']["chat_kind"],"last_message_at": string | null,"last_message_id": string | null,"title": string | null,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "avatar_url"?: string | null,"created_at"?: string,"created_by"?: string | null,"description"?: string | null,"direct_key"?: string | null,"id"?: string,"kind": Database["public"]['Enums']["chat_kind"],"last_message_at"?: string | null,"last_message_id"?: string | null,"title"?: string | null,"updated_at"?: string
                  }
                  Update: {
                    "avatar_url"?: string | null,"created_at"?: string,"created_by"?: string | null,"description"?: string | null,"direct_key"?: string | null,"id"?: string,"kind"?: Database["public"]['Enums']["chat_kind"],"last_message_at"?: string | null,"last_message_id"?: string | null,"title"?: string | null,"updated_at"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "chats_created_by_fkey"
      columns: ["created_by"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "chats_last_message_id_fkey"
      columns: ["last_message_id"]
isOneToOne: false
      referencedRelation: "messages"
      referencedColumns: ["id"]
    }
                  ]
                },"credit_ledger": {
                  Row: {
                    "amount_micro_usd": number,"balance_after_micro_usd": number,"created_at": string,"description": string,"id": number,"kind": Database["public"]['Enums']["ledger_entry_kind"],"metadata": NonNullable<Json>,"source": string,"source_id": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "amount_micro_usd": number,"balance_after_micro_usd": number,"created_at"?: string,"description"?: string,"id"?: never,"kind": Database["public"]['Enums']["ledger_entry_kind"],"metadata"?: NonNullable<Json>,"source": string,"source_id": string,"user_id": string
                  }
                  Update: {
                    "amount_micro_usd"?: number,"balance_after_micro_usd"?: number,"created_at"?: string,"description"?: string,"id"?: never,"kind"?: Database["public"]['Enums']["ledger_entry_kind"],"metadata"?: NonNullable<Json>,"source"?: string,"source_id"?: string,"user_id"?: string
                  }
                  Relationships: [
                    
                  ]
                },"credit_packs": {
                  Row: {
                    "active": boolean,"created_at": string,"credits_micro_usd": number,"currency": string,"description": string,"id": string,"name": string,"price_minor": number,"sort_order": number,"stripe_price_id": string | null,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "active"?: boolean,"created_at"?: string,"credits_micro_usd": number,"currency": string,"description"?: string,"id"?: string,"name": string,"price_minor": number,"sort_order"?: number,"stripe_price_id"?: string | null,"updated_at"?: string
                  }
                  Update: {
                    "active"?: boolean,"created_at"?: string,"credits_micro_usd"?: number,"currency"?: string,"description"?: string,"id"?: string,"name"?: string,"price_minor"?: number,"sort_order"?: number,"stripe_price_id"?: string | null,"updated_at"?: string
                  }
                  Relationships: [
                    
                  ]
                },"credit_reservations": {
                  Row: {
                    "amount_micro_usd": number,"created_at": string,"expires_at": string,"finished_at": string | null,"id": string,"purpose": string,"reference": string | null,"settled_micro_usd": number | null,"status": Database["public"]['Enums']["reservation_status"],"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "amount_micro_usd": number,"created_at"?: string,"expires_at": string,"finished_at"?: string | null,"id"?: string,"purpose"?: string,"reference"?: string | null,"settled_micro_usd"?: number | null,"status"?: Database["public"]['Enums']["reservation_status"],"user_id": string
                  }
                  Update: {
                    "amount_micro_usd"?: number,"created_at"?: string,"expires_at"?: string,"finished_at"?: string | null,"id"?: string,"purpose"?: string,"reference"?: string | null,"settled_micro_usd"?: number | null,"status"?: Database["public"]['Enums']["reservation_status"],"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "credit_reservations_user_id_fkey"
      columns: ["user_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"credit_wallets": {
                  Row: {
                    "balance_micro_usd": number,"created_at": string,"held_micro_usd": number,"updated_at": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "balance_micro_usd"?: number,"created_at"?: string,"held_micro_usd"?: number,"updated_at"?: string,"user_id": string
                  }
                  Update: {
                    "balance_micro_usd"?: number,"created_at"?: string,"held_micro_usd"?: number,"updated_at"?: string,"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "credit_wallets_user_id_fkey"
      columns: ["user_id"]
isOneToOne: true
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"friends": {
                  Row: {
                    "addressee_id": string,"created_at": string,"id": string,"requester_id": string,"responded_at": string | null,"status": Database["public"]['Enums']["friend_status"],"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "addressee_id": string,"created_at"?: string,"id"?: string,"requester_id": string,"responded_at"?: string | null,"status"?: Database["public"]['Enums']["friend_status"],"updated_at"?: string
                  }
                  Update: {
                    "addressee_id"?: string,"created_at"?: string,"id"?: string,"requester_id"?: string,"responded_at"?: string | null,"status"?: Database["public"]['Enums']["friend_status"],"updated_at"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "friends_addressee_id_fkey"
      columns: ["addressee_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "friends_requester_id_fkey"
      columns: ["requester_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"media": {
                  Row: {
                    "bytes": number,"created_at": string,"format": string | null,"height": number | null,"id": string,"original_filename": string | null,"owner_id": string,"public_id": string,"purpose": string,"resource_type": string,"secure_url": string,"width": number | null
                  }
                  ComputedFields: never
                  Insert: {
                    "bytes": number,"created_at"?: string,"format"?: string | null,"height"?: number | null,"id"?: string,"original_filename"?: string | null,"owner_id": string,"public_id": string,"purpose"?: string,"resource_type": string,"secure_url": string,"width"?: number | null
                  }
                  Update: {
                    "bytes"?: number,"created_at"?: string,"format"?: string | null,"height"?: number | null,"id"?: string,"original_filename"?: string | null,"owner_id"?: string,"public_id"?: string,"purpose"?: string,"resource_type"?: string,"secure_url"?: string,"width"?: number | null
                  }
                  Relationships: [
                    {
      foreignKeyName: "media_owner_id_fkey"
      columns: ["owner_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"message_mentions": {
                  Row: {
                    "chat_id": string,"created_at": string,"message_id": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "chat_id": string,"created_at": string,"message_id": string,"user_id": string
                  }
                  Update: {
                    "chat_id"?: string,"created_at"?: string,"message_id"?: string,"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "message_mentions_chat_id_fkey"
      columns: ["chat_id"]
isOneToOne: false
      referencedRelation: "chats"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "message_mentions_message_id_fkey"
      columns: ["message_id"]
isOneToOne: false
      referencedRelation: "messages"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "message_mentions_user_id_fkey"
      columns: ["user_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"message_reactions": {
                  Row: {
                    "chat_id": string,"created_at": string,"emoji": string,"message_id": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "chat_id": string,"created_at"?: string,"emoji": string,"message_id": string,"user_id": string
                  }
                  Update: {
                    "chat_id"?: string,"created_at"?: string,"emoji"?: string,"message_id"?: string,"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "message_reactions_chat_id_fkey"
      columns: ["chat_id"]
isOneToOne: false
      referencedRelation: "chats"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "message_reactions_message_id_fkey"
      columns: ["message_id"]
isOneToOne: false
      referencedRelation: "messages"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "message_reactions_user_id_fkey"
      columns: ["user_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"messages": {
                  Row: {
                    "chat_id": string,"client_id": string | null,"content": string,"created_at": string,"deleted_at": string | null,"edited_at": string | null,"forwarded": boolean,"id": string,"kind": Database["public"]['Enums']["message_kind"],"media_id": string | null,"metadata": NonNullable<Json>,"reply_to_id": string | null,"sender_id": string | null,"delivery": Json | null,"reactions": Json | null
                  }
                  ComputedFields: "delivery" | "reactions"
                  Insert: {
                    "chat_id": string,"client_id"?: string | null,"content"?: string,"created_at"?: string,"deleted_at"?: string | null,"edited_at"?: string | null,"forwarded"?: boolean,"id"?: string,"kind"?: Database["public"]['Enums']["message_kind"],"media_id"?: string | null,"metadata"?: NonNullable<Json>,"reply_to_id"?: string | null,"sender_id"?: string | null
                  }
                  Update: {
                    "chat_id"?: string,"client_id"?: string | null,"content"?: string,"created_at"?: string,"deleted_at"?: string | null,"edited_at"?: string | null,"forwarded"?: boolean,"id"?: string,"kind"?: Database["public"]['Enums']["message_kind"],"media_id"?: string | null,"metadata"?: NonNullable<Json>,"reply_to_id"?: string | null,"sender_id"?: string | null
                  }
                  Relationships: [
                    {
      foreignKeyName: "messages_chat_id_fkey"
      columns: ["chat_id"]
isOneToOne: false
      referencedRelation: "chats"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "messages_media_id_fkey"
      columns: ["media_id"]
isOneToOne: false
      referencedRelation: "media"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "messages_reply_to_id_fkey"
      columns: ["reply_to_id"]
isOneToOne: false
      referencedRelation: "messages"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "messages_sender_id_fkey"
      columns: ["sender_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"notifications": {
                  Row: {
                    "created_at": string,"id": string,"kind": string,"payload": NonNullable<Json>,"read_at": string | null,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "created_at"?: string,"id"?: string,"kind": string,"payload"?: NonNullable<Json>,"read_at"?: string | null,"user_id": string
                  }
                  Update: {
                    "created_at"?: string,"id"?: string,"kind"?: string,"payload"?: NonNullable<Json>,"read_at"?: string | null,"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "notifications_user_id_fkey"
      columns: ["user_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"payments": {
                  Row: {
                    "amount_minor": number,"amount_refunded_minor": number,"created_at": string,"credits_micro_usd": number,"credits_refunded_micro_usd": number,"credits_unrecovered_micro_usd": number,"currency": string,"expired_at": string | null,"failed_at": string | null,"id": string,"pack_id": string,"paid_at": string | null,"refunded_at": string | null,"status": Database["public"]['Enums']["payment_status"],"stripe_checkout_session_id": string,"stripe_payment_intent_id": string | null,"updated_at": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "amount_minor": number,"amount_refunded_minor"?: number,"created_at"?: string,"credits_micro_usd": number,"credits_refunded_micro_usd"?: number,"credits_unrecovered_micro_usd"?: number,"currency": string,"expired_at"?: string | null,"failed_at"?: string | null,"id"?: string,"pack_id": string,"paid_at"?: string | null,"refunded_at"?: string | null,"status"?: Database["public"]['Enums']["payment_status"],"stripe_checkout_session_id": string,"stripe_payment_intent_id"?: string | null,"updated_at"?: string,"user_id": string
                  }
                  Update: {
                    "amount_minor"?: number,"amount_refunded_minor"?: number,"created_at"?: string,"credits_micro_usd"?: number,"credits_refunded_micro_usd"?: number,"credits_unrecovered_micro_usd"?: number,"currency"?: string,"expired_at"?: string | null,"failed_at"?: string | null,"id"?: string,"pack_id"?: string,"paid_at"?: string | null,"refunded_at"?: string | null,"status"?: Database["public"]['Enums']["payment_status"],"stripe_checkout_session_id"?: string,"stripe_payment_intent_id"?: string | null,"updated_at"?: string,"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "payments_pack_id_fkey"
      columns: ["pack_id"]
isOneToOne: false
      referencedRelation: "credit_packs"
      referencedColumns: ["id"]
    }
                  ]
                },"pinned_messages": {
                  Row: {
                    "chat_id": string,"message_id": string,"pinned_at": string,"pinned_by": string | null
                  }
                  ComputedFields: never
                  Insert: {
                    "chat_id": string,"message_id": string,"pinned_at"?: string,"pinned_by"?: string | null
                  }
                  Update: {
                    "chat_id"?: string,"message_id"?: string,"pinned_at"?: string,"pinned_by"?: string | null
                  }
                  Relationships: [
                    {
      foreignKeyName: "pinned_messages_chat_id_fkey"
      columns: ["chat_id"]
isOneToOne: false
      referencedRelation: "chats"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "pinned_messages_message_id_fkey"
      columns: ["message_id"]
isOneToOne: false
      referencedRelation: "messages"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "pinned_messages_pinned_by_fkey"
      columns: ["pinned_by"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"push_devices": {
                  Row: {
                    "app_version": string | null,"created_at": string,"id": string,"platform": string,"token": string,"updated_at": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "app_version"?: string | null,"created_at"?: string,"id"?: string,"platform": string,"token": string,"updated_at"?: string,"user_id": string
                  }
                  Update: {
                    "app_version"?: string | null,"created_at"?: string,"id"?: string,"platform"?: string,"token"?: string,"updated_at"?: string,"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "push_devices_user_id_fkey"
      columns: ["user_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"shared_conversation_likes": {
                  Row: {
                    "created_at": string,"shared_id": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "created_at"?: string,"shared_id": string,"user_id": string
                  }
                  Update: {
                    "created_at"?: string,"shared_id"?: string,"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "shared_conversation_likes_shared_id_fkey"
      columns: ["shared_id"]
isOneToOne: false
      referencedRelation: "shared_conversations"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "shared_conversation_likes_user_id_fkey"
      columns: ["user_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"shared_conversation_views": {
                  Row: {
                    "shared_id": string,"viewed_at": string,"viewer_key": string
                  }
                  ComputedFields: never
                  Insert: {
                    "shared_id": string,"viewed_at"?: string,"viewer_key": string
                  }
                  Update: {
                    "shared_id"?: string,"viewed_at"?: string,"viewer_key"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "shared_conversation_views_shared_id_fkey"
      columns: ["shared_id"]
isOneToOne: false
      referencedRelation: "shared_conversations"
      referencedColumns: ["id"]
    }
                  ]
                },"shared_conversations": {
                  Row: {
                    "author_avatar_url": string | null,"author_id": string,"author_name": string,"category": string,"content_text": string,"created_at": string,"featured_at": string | null,"id": string,"like_count": number,"message_count": number,"messages": NonNullable<Json>,"published_at": string,"search": unknown,"status": Database["public"]['Enums']["shared_conversation_status"],"tags": (string)[],"title": string,"updated_at": string,"view_count": number
                  }
                  ComputedFields: never
                  Insert: {
                    "author_avatar_url"?: string | null,"author_id": string,"author_name": string,"category": string,"content_text": string,"created_at"?: string,"featured_at"?: string | null,"id"?: string,"like_count"?: number,"message_count": number,"messages": NonNullable<Json>,"published_at"?: string,"search"?: never,"status"?: Database["public"]['Enums']["shared_conversation_status"],"tags"?: (string)[],"title": string,"updated_at"?: string,"view_count"?: number
                  }
                  Update: {
                    "author_avatar_url"?: string | null,"author_id"?: string,"author_name"?: string,"category"?: string,"content_text"?: string,"created_at"?: string,"featured_at"?: string | null,"id"?: string,"like_count"?: number,"message_count"?: number,"messages"?: NonNullable<Json>,"published_at"?: string,"search"?: never,"status"?: Database["public"]['Enums']["shared_conversation_status"],"tags"?: (string)[],"title"?: string,"updated_at"?: string,"view_count"?: number
                  }
                  Relationships: [
                    {
      foreignKeyName: "shared_conversations_author_id_fkey"
      columns: ["author_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"stories": {
                  Row: {
                    "audience": string,"author_id": string,"body": string | null,"created_at": string,"expires_at": string,"id": string,"kind": string,"media_id": string | null
                  }
                  ComputedFields: never
                  Insert: {
                    "audience"?: string,"author_id": string,"body"?: string | null,"created_at"?: string,"expires_at": string,"id"?: string,"kind": string,"media_id"?: string | null
                  }
                  Update: {
                    "audience"?: string,"author_id"?: string,"body"?: string | null,"created_at"?: string,"expires_at"?: string,"id"?: string,"kind"?: string,"media_id"?: string | null
                  }
                  Relationships: [
                    {
      foreignKeyName: "stories_author_id_fkey"
      columns: ["author_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "stories_media_id_fkey"
      columns: ["media_id"]
isOneToOne: false
      referencedRelation: "media"
      referencedColumns: ["id"]
    }
                  ]
                },"story_audience_exclusions": {
                  Row: {
                    "story_id": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "story_id": string,"user_id": string
                  }
                  Update: {
                    "story_id"?: string,"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "story_audience_exclusions_story_id_fkey"
      columns: ["story_id"]
isOneToOne: false
      referencedRelation: "stories"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "story_audience_exclusions_user_id_fkey"
      columns: ["user_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"story_views": {
                  Row: {
                    "story_id": string,"viewed_at": string,"viewer_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "story_id": string,"viewed_at"?: string,"viewer_id": string
                  }
                  Update: {
                    "story_id"?: string,"viewed_at"?: string,"viewer_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "story_views_story_id_fkey"
      columns: ["story_id"]
isOneToOne: false
      referencedRelation: "stories"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "story_views_viewer_id_fkey"
      columns: ["viewer_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"stripe_charge_refunds": {
                  Row: {
                    "amount_minor": number,"amount_refunded_minor": number,"charge_id": string,"created_at": string,"currency": string,"last_event_id": string,"payment_intent_id": string,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "amount_minor": number,"amount_refunded_minor": number,"charge_id": string,"created_at"?: string,"currency": string,"last_event_id": string,"payment_intent_id": string,"updated_at"?: string
                  }
                  Update: {
                    "amount_minor"?: number,"amount_refunded_minor"?: number,"charge_id"?: string,"created_at"?: string,"currency"?: string,"last_event_id"?: string,"payment_intent_id"?: string,"updated_at"?: string
                  }
                  Relationships: [
                    
                  ]
                },"user_accounts": {
                  Row: {
                    "auth_provider": string,"clerk_updated_at": string | null,"created_at": string,"discoverable_by_phone": boolean,"email": string | null,"is_admin": boolean,"phone_number": string | null,"suspended_at": string | null,"suspended_reason": string | null,"updated_at": string,"user_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "auth_provider"?: string,"clerk_updated_at"?: string | null,"created_at"?: string,"discoverable_by_phone"?: boolean,"email"?: string | null,"is_admin"?: boolean,"phone_number"?: string | null,"suspended_at"?: string | null,"suspended_reason"?: string | null,"updated_at"?: string,"user_id": string
                  }
                  Update: {
                    "auth_provider"?: string,"clerk_updated_at"?: string | null,"created_at"?: string,"discoverable_by_phone"?: boolean,"email"?: string | null,"is_admin"?: boolean,"phone_number"?: string | null,"suspended_at"?: string | null,"suspended_reason"?: string | null,"updated_at"?: string,"user_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "user_accounts_user_id_fkey"
      columns: ["user_id"]
isOneToOne: true
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"users": {
                  Row: {
                    "about": string,"avatar_media_id": string | null,"avatar_url": string | null,"created_at": string,"display_name": string,"id": string,"last_seen_at": string | null,"updated_at": string,"username": string | null
                  }
                  ComputedFields: never
                  Insert: {
                    "about"?: string,"avatar_media_id"?: string | null,"avatar_url"?: string | null,"created_at"?: string,"display_name"?: string,"id": string,"last_seen_at"?: string | null,"updated_at"?: string,"username"?: string | null
                  }
                  Update: {
                    "about"?: string,"avatar_media_id"?: string | null,"avatar_url"?: string | null,"created_at"?: string,"display_name"?: string,"id"?: string,"last_seen_at"?: string | null,"updated_at"?: string,"username"?: string | null
                  }
                  Relationships: [
                    {
      foreignKeyName: "users_avatar_media_id_fkey"
      columns: ["avatar_media_id"]
isOneToOne: false
      referencedRelation: "media"
      referencedColumns: ["id"]
    }
                  ]
                },"webhook_events": {
                  Row: {
                    "event_id": string,"occurred_at": string | null,"outcome": string | null,"provider": string,"received_at": string,"subject_id": string | null,"type": string
                  }
                  ComputedFields: never
                  Insert: {
                    "event_id": string,"occurred_at"?: string | null,"outcome"?: string | null,"provider": string,"received_at"?: string,"subject_id"?: string | null,"type": string
                  }
                  Update: {
                    "event_id"?: string,"occurred_at"?: string | null,"outcome"?: string | null,"provider"?: string,"received_at"?: string,"subject_id"?: string | null,"type"?: string
                  }
                  Relationships: [
                    
                  ]
                },"website_agents": {
                  Row: {
                    "created_at": string,"user_id": string,"website_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "created_at"?: string,"user_id": string,"website_id": string
                  }
                  Update: {
                    "created_at"?: string,"user_id"?: string,"website_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "website_agents_user_id_fkey"
      columns: ["user_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "website_agents_website_id_fkey"
      columns: ["website_id"]
isOneToOne: false
      referencedRelation: "websites"
      referencedColumns: ["id"]
    }
                  ]
                },"websites": {
                  Row: {
                    "active": boolean,"allowed_origins": (string)[],"created_at": string,"id": string,"name": string,"owner_id": string,"settings": NonNullable<Json>,"updated_at": string,"widget_key": string
                  }
                  ComputedFields: never
                  Insert: {
                    "active"?: boolean,"allowed_origins"?: (string)[],"created_at"?: string,"id"?: string,"name": string,"owner_id"?: string,"settings"?: NonNullable<Json>,"updated_at"?: string,"widget_key"?: string
                  }
                  Update: {
                    "active"?: boolean,"allowed_origins"?: (string)[],"created_at"?: string,"id"?: string,"name"?: string,"owner_id"?: string,"settings"?: NonNullable<Json>,"updated_at"?: string,"widget_key"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "websites_owner_id_fkey"
      columns: ["owner_id"]
isOneToOne: false
      referencedRelation: "users"
      referencedColumns: ["id"]
    }
                  ]
                },"widget_sessions": {
                  Row: {
                    "agent_messages": number,"bot_answers": number,"bot_cost_micro_usd": number,"chat_id": string,"closed_at": string | null,"created_at": string,"expires_at": string,"first_response_ms": number | null,"first_visitor_message_at": string | null,"handed_off_at": string | null,"id": string,"ip_hash": string | null,"last_seen_at": string,"origin": string,"revoked_at": string | null,"secret_hash": string,"visitor_messages": number,"website_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "agent_messages"?: number,"bot_answers"?: number,"bot_cost_micro_usd"?: number,"chat_id": string,"closed_at"?: string | null,"created_at"?: string,"expires_at": string,"first_response_ms"?: number | null,"first_visitor_message_at"?: string | null,"handed_off_at"?: string | null,"id"?: string,"ip_hash"?: string | null,"last_seen_at"?: string,"origin": string,"revoked_at"?: string | null,"secret_hash": string,"visitor_messages"?: number,"website_id": string
                  }
                  Update: {
                    "agent_messages"?: number,"bot_answers"?: number,"bot_cost_micro_usd"?: number,"chat_id"?: string,"closed_at"?: string | null,"created_at"?: string,"expires_at"?: string,"first_response_ms"?: number | null,"first_visitor_message_at"?: string | null,"handed_off_at"?: string | null,"id"?: string,"ip_hash"?: string | null,"last_seen_at"?: string,"origin"?: string,"revoked_at"?: string | null,"secret_hash"?: string,"visitor_messages"?: number,"website_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "widget_sessions_chat_id_fkey"
      columns: ["chat_id"]
isOneToOne: true
      referencedRelation: "chats"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "widget_sessions_website_id_fkey"
      columns: ["website_id"]
isOneToOne: false
      referencedRelation: "websites"
      referencedColumns: ["id"]
    }
                  ]
                }
          }
          Views: {
            [_ in never]: never
          }
          Functions: {
            "accept_friend_request":
{ Args: { "p_request_id": string }; Returns: {
              "addressee_id": string,
"created_at": string,
"id": string,
"requester_id": string,
"responded_at": string | null,
"status": Database["public"]['Enums']["friend_status"],
"updated_at": string
            }
                          SetofOptions: {
        from: "*"
        to: "friends"
        isOneToOne: true
        isSetofReturn: false
      } },
"add_chat_member":
{ Args: { "p_chat_id": string,"p_role"?: Database["public"]['Enums']["chat_member_role"],"p_user_id": string }; Returns: {
              "archived_at": string | null,
"chat_id": string,
"cleared_at": string | null,
"joined_at": string,
"last_delivered_at": string | null,
"last_read_at": string | null,
"last_read_message_id": string | null,
"muted_until": string | null,
"pinned_at": string | null,
"role": Database["public"]['Enums']["chat_member_role"],
"user_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "chat_members"
        isOneToOne: true
        isSetofReturn: false
      } },
"add_reaction":
{ Args: { "p_emoji": string,"p_message_id": string }; Returns: Json
                           },
"admin_deduct_credits":
{ Args: { "p_amount_micro_usd": number,"p_reason": string,"p_user_id": string }; Returns: number
                           },
"admin_delete_message":
{ Args: { "p_message_id": string,"p_reason": string }; Returns: undefined
                           },
"admin_feature_conversation":
{ Args: { "p_featured": boolean,"p_reason": string,"p_shared_id": string }; Returns: {
              "author_avatar_url": string | null,
"author_id": string,
"author_name": string,
"category": string,
"content_text": string,
"created_at": string,
"featured_at": string | null,
"id": string,
"like_count": number,
"message_count": number,
"messages": NonNullable<Json>,
"published_at": string,
"search": unknown,
"status": Database["public"]['Enums']["shared_conversation_status"],
"tags": (string)[],
"title": string,
"updated_at": string,
"view_count": number
            }
                          SetofOptions: {
        from: "*"
        to: "shared_conversations"
        isOneToOne: true
        isSetofReturn: false
      } },
"admin_grant_credits":
{ Args: { "p_amount_micro_usd": number,"p_reason": string,"p_user_id": string }; Returns: number
                           },
"admin_restore_user":
{ Args: { "p_reason": string,"p_user_id": string }; Returns: undefined
                           },
"admin_set_config":
{ Args: { "p_key": string,"p_reason": string,"p_value": Json }; Returns: {
              "description": string,
"key": string,
"max_value": number | null,
"min_value": number | null,
"updated_at": string,
"updated_by": string | null,
"value": NonNullable<Json>,
"value_type": string
            }
                          SetofOptions: {
        from: "*"
        to: "admin_config"
        isOneToOne: true
        isSetofReturn: false
      } },
"admin_suspend_user":
{ Args: { "p_reason": string,"p_user_id": string }; Returns: undefined
                           },
"admin_take_down_conversation":
{ Args: { "p_reason": string,"p_shared_id": string,"p_taken_down": boolean }; Returns: {
              "author_avatar_url": string | null,
"author_id": string,
"author_name": string,
"category": string,
"content_text": string,
"created_at": string,
"featured_at": string | null,
"id": string,
"like_count": number,
"message_count": number,
"messages": NonNullable<Json>,
"published_at": string,
"search": unknown,
"status": Database["public"]['Enums']["shared_conversation_status"],
"tags": (string)[],
"title": string,
"updated_at": string,
"view_count": number
            }
                          SetofOptions: {
        from: "*"
        to: "shared_conversations"
        isOneToOne: true
        isSetofReturn: false
      } },
"block_user":
{ Args: { "p_user_id": string }; Returns: {
              "addressee_id": string,
"created_at": string,
"id": string,
"requester_id": string,
"responded_at": string | null,
"status": Database["public"]['Enums']["friend_status"],
"updated_at": string
            }
                          SetofOptions: {
        from: "*"
        to: "friends"
        isOneToOne: true
        isSetofReturn: false
      } },
"cancel_friend_request":
{ Args: { "p_request_id": string }; Returns: undefined
                           },
"clear_chat_history":
{ Args: { "p_chat_id": string }; Returns: {
              "archived_at": string | null,
"chat_id": string,
"cleared_at": string | null,
"joined_at": string,
"last_delivered_at": string | null,
"last_read_at": string | null,
"last_read_message_id": string | null,
"muted_until": string | null,
"pinned_at": string | null,
"role": Database["public"]['Enums']["chat_member_role"],
"user_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "chat_members"
        isOneToOne: true
        isSetofReturn: false
      } },
"create_assistant_chat":
{ Args: { "p_title"?: string }; Returns: {
              "avatar_url": string | null,
"created_at": string,
"created_by": string | null,
"description": string | null,
"direct_key": string | null,
"id": string,
"kind": Database["public"]['Enums']["chat_kind"],
"last_message_at": string | null,
"last_message_id": string | null,
"title": string | null,
"updated_at": string
            }
                          SetofOptions: {
        from: "*"
        to: "chats"
        isOneToOne: true
        isSetofReturn: false
      } },
"create_group_chat":
{ Args: { "p_member_ids"?: (string)[],"p_title": string }; Returns: {
              "avatar_url": string | null,
"created_at": string,
"created_by": string | null,
"description": string | null,
"direct_key": string | null,
"id": string,
"kind": Database["public"]['Enums']["chat_kind"],
"last_message_at": string | null,
"last_message_id": string | null,
"title": string | null,
"updated_at": string
            }
                          SetofOptions: {
        from: "*"
        to: "chats"
        isOneToOne: true
        isSetofReturn: false
      } },
"decline_friend_request":
{ Args: { "p_request_id": string }; Returns: {
              "addressee_id": string,
"created_at": string,
"id": string,
"requester_id": string,
"responded_at": string | null,
"status": Database["public"]['Enums']["friend_status"],
"updated_at": string
            }
                          SetofOptions: {
        from: "*"
        to: "friends"
        isOneToOne: true
        isSetofReturn: false
      } },
"delete_group_chat":
{ Args: { "p_chat_id": string }; Returns: undefined
                           },
"delivery":
{ Args: { "m": Omit<Database["public"]['Tables']["messages"]['Row'], Database["public"]['Tables']["messages"]['ComputedFields']> }; Returns: Json
                           },
"discover_contacts":
{ Args: { "p_phone_hashes": (string)[] }; Returns: {
              "avatar_url": string,"display_name": string,"phone_hash": string,"user_id": string,"username": string
            }[]
                           },
"ensure_profile":
{ Args: Record<PropertyKey, never>; Returns: {
              "about": string,
"avatar_media_id": string | null,
"avatar_url": string | null,
"created_at": string,
"display_name": string,
"id": string,
"last_seen_at": string | null,
"updated_at": string,
"username": string | null
            }
                          SetofOptions: {
        from: "*"
        to: "users"
        isOneToOne: true
        isSetofReturn: false
      } },
"get_chat_history":
{ Args: { "p_before_created_at"?: string,"p_before_id"?: string,"p_chat_id": string,"p_limit"?: number }; Returns: {
              "chat_id": string,
"client_id": string | null,
"content": string,
"created_at": string,
"deleted_at": string | null,
"edited_at": string | null,
"forwarded": boolean,
"id": string,
"kind": Database["public"]['Enums']["message_kind"],
"media_id": string | null,
"metadata": NonNullable<Json>,
"reply_to_id": string | null,
"sender_id": string | null
            }[]
                          SetofOptions: {
        from: "*"
        to: "messages"
        isOneToOne: false
        isSetofReturn: true
      } },
"get_inbox":
{ Args: { "p_archived"?: boolean,"p_before"?: string,"p_before_chat_id"?: string,"p_limit"?: number }; Returns: {
              "activity_at": string,"archived_at": string,"avatar_url": string,"chat_id": string,"kind": Database["public"]['Enums']["chat_kind"],"last_message_content": string,"last_message_created_at": string,"last_message_delivery": Json,"last_message_id": string,"last_message_kind": Database["public"]['Enums']["message_kind"],"last_message_reactions": Json,"last_message_sender_id": string,"muted_until": string,"peer_avatar_url": string,"peer_display_name": string,"peer_id": string,"pinned_at": string,"role": Database["public"]['Enums']["chat_member_role"],"title": string,"unread_count": number,"unread_mention_count": number
            }[]
                           },
"get_or_create_direct_chat":
{ Args: { "p_user_id": string }; Returns: {
              "avatar_url": string | null,
"created_at": string,
"created_by": string | null,
"description": string | null,
"direct_key": string | null,
"id": string,
"kind": Database["public"]['Enums']["chat_kind"],
"last_message_at": string | null,
"last_message_id": string | null,
"title": string | null,
"updated_at": string
            }
                          SetofOptions: {
        from: "*"
        to: "chats"
        isOneToOne: true
        isSetofReturn: false
      } },
"get_story_feed":
{ Args: { "p_limit"?: number }; Returns: {
              "author_avatar_url": string,"author_display_name": string,"author_id": string,"body": string,"created_at": string,"expires_at": string,"id": string,"kind": string,"media_resource_type": string,"media_url": string,"view_count": number,"viewed": boolean
            }[]
                           },
"get_widget_analytics":
{ Args: { "p_from": string,"p_to": string,"p_website_id": string }; Returns: {
              "agent_messages": number,"avg_first_response_ms": number,"bot_answers": number,"bot_cost_micro_usd": number,"day": string,"handoffs": number,"p95_first_response_ms": number,"sessions": number,"visitor_messages": number
            }[]
                           },
"leave_chat":
{ Args: { "p_chat_id": string }; Returns: undefined
                           },
"mark_chat_read":
{ Args: { "p_chat_id": string,"p_message_id"?: string }; Returns: {
              "archived_at": string | null,
"chat_id": string,
"cleared_at": string | null,
"joined_at": string,
"last_delivered_at": string | null,
"last_read_at": string | null,
"last_read_message_id": string | null,
"muted_until": string | null,
"pinned_at": string | null,
"role": Database["public"]['Enums']["chat_member_role"],
"user_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "chat_members"
        isOneToOne: true
        isSetofReturn: false
      } },
"mark_delivered":
{ Args: { "p_message_ids": (string)[] }; Returns: {
              "chat_id": string,"delivered_at": string,"message_id": string
            }[]
                           },
"mark_story_viewed":
{ Args: { "p_story_id": string }; Returns: boolean
                           },
"mute_chat":
{ Args: { "p_chat_id": string,"p_until": string }; Returns: {
              "archived_at": string | null,
"chat_id": string,
"cleared_at": string | null,
"joined_at": string,
"last_delivered_at": string | null,
"last_read_at": string | null,
"last_read_message_id": string | null,
"muted_until": string | null,
"pinned_at": string | null,
"role": Database["public"]['Enums']["chat_member_role"],
"user_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "chat_members"
        isOneToOne: true
        isSetofReturn: false
      } },
"my_chat_settings":
{ Args: { "p_chat_id"?: string }; Returns: {
              "archived_at": string,"chat_id": string,"cleared_at": string,"muted_until": string,"pinned_at": string
            }[]
                           },
"pin_message":
{ Args: { "p_message_id": string }; Returns: {
              "chat_id": string,
"message_id": string,
"pinned_at": string,
"pinned_by": string | null
            }
                          SetofOptions: {
        from: "*"
        to: "pinned_messages"
        isOneToOne: true
        isSetofReturn: false
      } },
"post_story":
{ Args: { "p_audience"?: string,"p_body"?: string,"p_excluded_user_ids"?: (string)[],"p_kind": string,"p_media_id"?: string }; Returns: {
              "audience": string,
"author_id": string,
"body": string | null,
"created_at": string,
"expires_at": string,
"id": string,
"kind": string,
"media_id": string | null
            }
                          SetofOptions: {
        from: "*"
        to: "stories"
        isOneToOne: true
        isSetofReturn: false
      } },
"publish_conversation":
{ Args: { "p_category": string,"p_chat_id": string,"p_tags"?: (string)[],"p_title": string }; Returns: {
              "author_avatar_url": string | null,
"author_id": string,
"author_name": string,
"category": string,
"content_text": string,
"created_at": string,
"featured_at": string | null,
"id": string,
"like_count": number,
"message_count": number,
"messages": NonNullable<Json>,
"published_at": string,
"search": unknown,
"status": Database["public"]['Enums']["shared_conversation_status"],
"tags": (string)[],
"title": string,
"updated_at": string,
"view_count": number
            }
                          SetofOptions: {
        from: "*"
        to: "shared_conversations"
        isOneToOne: true
        isSetofReturn: false
      } },
"reactions":
{ Args: { "m": Omit<Database["public"]['Tables']["messages"]['Row'], Database["public"]['Tables']["messages"]['ComputedFields']> }; Returns: Json
                           },
"register_push_device":
{ Args: { "p_app_version"?: string,"p_platform": string,"p_token": string }; Returns: {
              "app_version": string | null,
"created_at": string,
"id": string,
"platform": string,
"token": string,
"updated_at": string,
"user_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "push_devices"
        isOneToOne: true
        isSetofReturn: false
      } },
"remove_chat_member":
{ Args: { "p_chat_id": string,"p_user_id": string }; Returns: undefined
                           },
"remove_friend":
{ Args: { "p_user_id": string }; Returns: undefined
                           },
"remove_reaction":
{ Args: { "p_emoji": string,"p_message_id": string }; Returns: Json
                           },
"rotate_widget_key":
{ Args: { "p_website_id": string }; Returns: string
                           },
"search_messages":
{ Args: { "p_after"?: string,"p_before"?: string,"p_chat_id"?: string,"p_cursor_created_at"?: string,"p_cursor_id"?: string,"p_cursor_rank"?: number,"p_limit"?: number,"p_query": string,"p_sender_id"?: string }; Returns: {
              "chat_id": string,"content": string,"created_at": string,"id": string,"kind": Database["public"]['Enums']["message_kind"],"rank": number,"sender_id": string
            }[]
                           },
"search_users":
{ Args: { "p_limit"?: number,"p_query": string }; Returns: {
              "about": string,"avatar_url": string,"display_name": string,"id": string,"username": string
            }[]
                           },
"send_friend_request":
{ Args: { "p_user_id": string }; Returns: {
              "addressee_id": string,
"created_at": string,
"id": string,
"requester_id": string,
"responded_at": string | null,
"status": Database["public"]['Enums']["friend_status"],
"updated_at": string
            }
                          SetofOptions: {
        from: "*"
        to: "friends"
        isOneToOne: true
        isSetofReturn: false
      } },
"send_message":
{ Args: { "p_chat_id": string,"p_client_id"?: string,"p_content": string,"p_forwarded"?: boolean,"p_kind"?: Database["public"]['Enums']["message_kind"],"p_media_id"?: string,"p_reply_to_id"?: string }; Returns: {
              "chat_id": string,
"client_id": string | null,
"content": string,
"created_at": string,
"deleted_at": string | null,
"edited_at": string | null,
"forwarded": boolean,
"id": string,
"kind": Database["public"]['Enums']["message_kind"],
"media_id": string | null,
"metadata": NonNullable<Json>,
"reply_to_id": string | null,
"sender_id": string | null
            }
                          SetofOptions: {
        from: "*"
        to: "messages"
        isOneToOne: true
        isSetofReturn: false
      } },
"set_chat_archived":
{ Args: { "p_archived": boolean,"p_chat_id": string }; Returns: {
              "archived_at": string | null,
"chat_id": string,
"cleared_at": string | null,
"joined_at": string,
"last_delivered_at": string | null,
"last_read_at": string | null,
"last_read_message_id": string | null,
"muted_until": string | null,
"pinned_at": string | null,
"role": Database["public"]['Enums']["chat_member_role"],
"user_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "chat_members"
        isOneToOne: true
        isSetofReturn: false
      } },
"set_chat_assistant":
{ Args: { "p_chat_id": string,"p_enabled": boolean }; Returns: {
              "assistant_enabled": boolean,
"chat_id": string,
"updated_at": string,
"updated_by": string | null
            }
                          SetofOptions: {
        from: "*"
        to: "chat_ai_settings"
        isOneToOne: true
        isSetofReturn: false
      } },
"set_chat_member_role":
{ Args: { "p_chat_id": string,"p_role": Database["public"]['Enums']["chat_member_role"],"p_user_id": string }; Returns: {
              "archived_at": string | null,
"chat_id": string,
"cleared_at": string | null,
"joined_at": string,
"last_delivered_at": string | null,
"last_read_at": string | null,
"last_read_message_id": string | null,
"muted_until": string | null,
"pinned_at": string | null,
"role": Database["public"]['Enums']["chat_member_role"],
"user_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "chat_members"
        isOneToOne: true
        isSetofReturn: false
      } },
"set_chat_pinned":
{ Args: { "p_chat_id": string,"p_pinned": boolean }; Returns: {
              "archived_at": string | null,
"chat_id": string,
"cleared_at": string | null,
"joined_at": string,
"last_delivered_at": string | null,
"last_read_at": string | null,
"last_read_message_id": string | null,
"muted_until": string | null,
"pinned_at": string | null,
"role": Database["public"]['Enums']["chat_member_role"],
"user_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "chat_members"
        isOneToOne: true
        isSetofReturn: false
      } },
"set_phone_discoverable":
{ Args: { "p_enabled": boolean }; Returns: boolean
                           },
"unblock_user":
{ Args: { "p_user_id": string }; Returns: undefined
                           },
"unpin_message":
{ Args: { "p_message_id": string }; Returns: boolean
                           },
"unpublish_conversation":
{ Args: { "p_shared_id": string }; Returns: {
              "author_avatar_url": string | null,
"author_id": string,
"author_name": string,
"category": string,
"content_text": string,
"created_at": string,
"featured_at": string | null,
"id": string,
"like_count": number,
"message_count": number,
"messages": NonNullable<Json>,
"published_at": string,
"search": unknown,
"status": Database["public"]['Enums']["shared_conversation_status"],
"tags": (string)[],
"title": string,
"updated_at": string,
"view_count": number
            }
                          SetofOptions: {
        from: "*"
        to: "shared_conversations"
        isOneToOne: true
        isSetofReturn: false
      } },
"unregister_push_device":
{ Args: { "p_token": string }; Returns: boolean
                           },
"view_shared_conversation":
{ Args: { "p_shared_id": string,"p_viewer_id"?: string }; Returns: {
              "author_avatar_url": string | null,
"author_id": string,
"author_name": string,
"category": string,
"content_text": string,
"created_at": string,
"featured_at": string | null,
"id": string,
"like_count": number,
"message_count": number,
"messages": NonNullable<Json>,
"published_at": string,
"search": unknown,
"status": Database["public"]['Enums']["shared_conversation_status"],
"tags": (string)[],
"title": string,
"updated_at": string,
"view_count": number
            }
                          SetofOptions: {
        from: "*"
        to: "shared_conversations"
        isOneToOne: true
        isSetofReturn: false
      } },
"widget_close_session":
{ Args: { "p_chat_id": string }; Returns: {
              "agent_messages": number,
"bot_answers": number,
"bot_cost_micro_usd": number,
"chat_id": string,
"closed_at": string | null,
"created_at": string,
"expires_at": string,
"first_response_ms": number | null,
"first_visitor_message_at": string | null,
"handed_off_at": string | null,
"id": string,
"ip_hash": string | null,
"last_seen_at": string,
"origin": string,
"revoked_at": string | null,
"secret_hash": string,
"visitor_messages": number,
"website_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "widget_sessions"
        isOneToOne: true
        isSetofReturn: false
      } },
"widget_take_over":
{ Args: { "p_chat_id": string }; Returns: {
              "agent_messages": number,
"bot_answers": number,
"bot_cost_micro_usd": number,
"chat_id": string,
"closed_at": string | null,
"created_at": string,
"expires_at": string,
"first_response_ms": number | null,
"first_visitor_message_at": string | null,
"handed_off_at": string | null,
"id": string,
"ip_hash": string | null,
"last_seen_at": string,
"origin": string,
"revoked_at": string | null,
"secret_hash": string,
"visitor_messages": number,
"website_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "widget_sessions"
        isOneToOne: true
        isSetofReturn: false
      } }
          }
          Enums: {
            "ai_interaction_status": "pending"|"succeeded"|"incomplete"|"failed"|"aborted"|"refused","ai_provider": "openai"|"deepseek","chat_kind": "direct"|"group"|"assistant"|"widget","chat_member_role": "owner"|"admin"|"member","friend_status": "pending"|"accepted"|"declined"|"blocked","ledger_entry_kind": "topup"|"ai_usage"|"refund"|"grant"|"adjustment","message_kind": "text"|"image"|"file"|"ai"|"system","payment_status": "pending"|"paid"|"failed"|"expired"|"refunded"|"partially_refunded","reservation_status": "held"|"settled"|"released"|"expired","shared_conversation_status": "published"|"unpublished"|"taken_down"
          }
          CompositeTypes: {
            [_ in never]: never
          }
        }
}

type DatabaseWithoutInternals = Omit<Database, '__InternalSupabase'>

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">]

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never = never
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {
      Row: infer R
    }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
  ? (DefaultSchema["Tables"] & DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
      Row: infer R
    }
    ? R
    : never
  : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
  ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Insert: infer I
    }
    ? I
    : never
  : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
  ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Update: infer U
    }
    ? U
    : never
  : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never = never
> = DefaultSchemaEnumNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
  ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
  : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never = never
> = PublicCompositeTypeNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
  ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
  : never

export const Constants = {
  "private": {
          Enums: {
            
          }
        },"public": {
          Enums: {
            "ai_interaction_status": ["pending", "succeeded", "incomplete", "failed", "aborted", "refused"],"ai_provider": ["openai", "deepseek"],"chat_kind": ["direct", "group", "assistant", "widget"],"chat_member_role": ["owner", "admin", "member"],"friend_status": ["pending", "accepted", "declined", "blocked"],"ledger_entry_kind": ["topup", "ai_usage", "refund", "grant", "adjustment"],"message_kind": ["text", "image", "file", "ai", "system"],"payment_status": ["pending", "paid", "failed", "expired", "refunded", "partially_refunded"],"reservation_status": ["held", "settled", "released", "expired"],"shared_conversation_status": ["published", "unpublished", "taken_down"]
          }
        }
} as const
