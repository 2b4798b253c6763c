/**
 * A picture for the demo to upload: a small PNG of a sunset, made here (no
 * binary file in the repository), encoded by the Cloudinary stand-in's encodePng.
 */
import { encodePng } from '../standins/cloudinary.mjs';

/** A `width`×`height` RGB PNG of a sunset (sky gradient, sun, sea). */
export function sunsetPng(width = 48, height = 32) {
  return encodePng(width, height, (x, y) => {
    const sea = y > height * 0.65;
    const sun = (x - width / 2) ** 2 + (y - height * 0.6) ** 2 < (height / 5) ** 2;
    const t = y / height;
    return sun && !sea ? [255, 210, 80] : sea ? [20, 60 + 40 * t, 120] : [250, 120 + 80 * t, 90 + 60 * t];
  });
}
