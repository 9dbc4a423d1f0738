import { describe, expect, it } from "vitest";

import type { BBox } from "../api/types";

import { boxFromCorners, boxToPercent, labelRows, sameBox, scaleBox, screenToImage } from "./boxes";

describe("boxToPercent", () => {
  it("places a box in percentages of its image", () => {
    expect(boxToPercent([64, 48, 320, 240], { width: 640, height: 480 })).toEqual({
      left: "10%",
      top: "10%",
      width: "40%",
      height: "40%",
    });
  });

  it("clamps boxes that stick out of the image", () => {
    expect(boxToPercent([-10, 400, 700, 900], { width: 640, height: 480 })).toEqual({
      left: "0%",
      top: "83.3333%",
      width: "100%",
      height: "16.6667%",
    });
  });
});

describe("scaleBox", () => {
  it("maps an original's box onto its thumbnail", () => {
    expect(scaleBox([100, 50, 300, 250], { width: 1000, height: 500 }, { width: 320, height: 160 })).toEqual([
      32, 16, 96, 80,
    ]);
  });
});

describe("screenToImage", () => {
  const shown = { left: 20, top: 100, width: 320, height: 240 };
  const image = { width: 640, height: 480 };

  it("turns a screen point into image pixels", () => {
    expect(screenToImage(180, 220, shown, image)).toEqual([320, 240]);
  });

  it("clamps points dragged past the image's edge", () => {
    expect(screenToImage(0, 1000, shown, image)).toEqual([0, 480]);
  });
});

describe("boxFromCorners", () => {
  it("orders the corners whichever way the drag went", () => {
    expect(boxFromCorners([300.4, 40.6], [100.2, 200.5])).toEqual([100, 41, 300, 201]);
  });
});

describe("sameBox", () => {
  it("tolerates the API's rounding", () => {
    expect(sameBox([10, 20, 30, 40], [10.3, 19.8, 30, 40.4])).toBe(true);
    expect(sameBox([10, 20, 30, 40], [12, 20, 30, 40])).toBe(false);
  });
});

describe("labelRows", () => {
  const image = { width: 320, height: 240 };
  const boxes = [
    { bbox: [0, 0, 320, 240] as BBox, label: "image 0.96" },
    { bbox: [0, 0, 256, 240] as BBox, label: "cat 0.93" },
    { bbox: [64, 0, 320, 240] as BBox, label: "dog 0.90" },
  ];

  it("stacks labels that would cover each other", () => {
    // Shown 160 px wide the third box's label starts 32 px in, under the first label.
    expect(labelRows(boxes, image, 160)).toEqual([0, 1, 2]);
  });

  it("keeps labels on one row where the image is shown large enough", () => {
    // Shown 640 px wide the third label starts 128 px in, clear of the first.
    expect(labelRows(boxes, image, 640)).toEqual([0, 1, 0]);
  });
});
