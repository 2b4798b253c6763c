/**
 * A picture for the demo to upload: a small PNG of a sunset, made here (no
 * binary file in the repository). PNG layout: https://www.w3.org/TR/png/.
 */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

/** A `width`×`height` RGB PNG of a sunset (sky gradient, sun, sea). */
export function sunsetPng(width = 48, height = 32) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.alloc((3 * width + 1) * height);
  for (let y = 0; y < height; y++) {
    rows[y * (3 * width + 1)] = 0;
    for (let x = 0; x < width; x++) {
      const sea = y > height * 0.65;
      const sun = (x - width / 2) ** 2 + (y - height * 0.6) ** 2 < (height / 5) ** 2;
      const t = y / height;
      const rgb = sun && !sea ? [255, 210, 80] : sea ? [20, 60 + 40 * t, 120] : [250, 120 + 80 * t, 90 + 60 * t];
      rows.set(rgb.map(Math.round), y * (3 * width + 1) + 1 + 3 * x);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
