// Box geometry between image pixels (what the API speaks) and the displayed image (what the user sees).
// Overlays are placed in percentages of the image, so they stay right however the image is scaled.
import type { BBox } from "../api/types";

export interface Size {
  width: number;
  height: number;
}

/** The displayed image's rectangle on screen, as `getBoundingClientRect()` gives it. */
export interface ScreenRect extends Size {
  left: number;
  top: number;
}

export type PercentBox = {
  left: string;
  top: string;
  width: string;
  height: string;
};

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));
const percent = (value: number) => `${Number(value.toFixed(4))}%`;

/** Where a box in image pixels sits on its image, in percentages of the image's size (clamped to it). */
export function boxToPercent(bbox: BBox, image: Size): PercentBox {
  const [x1, y1, x2, y2] = bbox;
  const left = clamp(x1 / image.width, 0, 1);
  const top = clamp(y1 / image.height, 0, 1);
  const right = clamp(x2 / image.width, left, 1);
  const bottom = clamp(y2 / image.height, top, 1);
  return {
    left: percent(left * 100),
    top: percent(top * 100),
    width: percent((right - left) * 100),
    height: percent((bottom - top) * 100),
  };
}

/** A box from one image's pixels to another size of the same picture (an original's box on its thumbnail). */
export function scaleBox(bbox: BBox, from: Size, to: Size): BBox {
  const sx = to.width / from.width;
  const sy = to.height / from.height;
  return [bbox[0] * sx, bbox[1] * sy, bbox[2] * sx, bbox[3] * sy];
}

/** A point on screen (clientX/Y) as image pixels, clamped to the image. */
export function screenToImage(x: number, y: number, shown: ScreenRect, image: Size): [number, number] {
  const scaled = scaleBox([x - shown.left, y - shown.top, 0, 0], shown, image);
  return [clamp(scaled[0], 0, image.width), clamp(scaled[1], 0, image.height)];
}

/** The box two corners span, in whole pixels, whichever way the user dragged. */
export function boxFromCorners(a: [number, number], b: [number, number]): BBox {
  return [
    Math.round(Math.min(a[0], b[0])),
    Math.round(Math.min(a[1], b[1])),
    Math.round(Math.max(a[0], b[0])),
    Math.round(Math.max(a[1], b[1])),
  ];
}

/** Whether two boxes are the same within `tolerance` pixels on every side (the API rounds coordinates). */
export function sameBox(a: BBox, b: BBox, tolerance = 0.5): boolean {
  return a.every((value, i) => Math.abs(value - (b[i] ?? Number.NaN)) <= tolerance);
}

/** How big a corner label is drawn, in screen pixels: its line height and about one character's width. */
export const LABEL_METRICS = { height: 15, charWidth: 6.6, padding: 8 };

/**
 * For boxes drawn in this order, the row each one's corner label goes on, so that no two labels cover each
 * other on an image shown `shownWidth` pixels wide: a label moves down a row while it would overlap one placed.
 */
export function labelRows(boxes: { bbox: BBox; label: string }[], image: Size, shownWidth: number): number[] {
  const scale = shownWidth / image.width;
  const { height, charWidth, padding } = LABEL_METRICS;
  const placed: { x1: number; y1: number; x2: number; y2: number }[] = [];
  return boxes.map(({ bbox, label }) => {
    const x1 = bbox[0] * scale;
    const x2 = x1 + label.length * charWidth + padding;
    for (let row = 0; ; row += 1) {
      const y1 = bbox[1] * scale + row * height;
      const rect = { x1, y1, x2, y2: y1 + height };
      const clash = placed.some((other) => other.x1 < rect.x2 && rect.x1 < other.x2 && other.y1 < rect.y2 && rect.y1 < other.y2);
      if (!clash) {
        placed.push(rect);
        return row;
      }
    }
  });
}

/** Similarities and scores the way every overlay shows them: two decimals. */
export function formatScore(value: number): string {
  return value.toFixed(2);
}
