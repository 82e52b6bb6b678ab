// Emits recording-stream v1 record bodies (see shared/recording/format.ts) from 32-bit BGRX frames.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lucid {

struct FrameView {
  const uint8_t* data;  // BGRX, 4 bytes a pixel
  int width;
  int height;
  size_t stride;  // bytes per row
};

// Keyframe body: width u16, height u16, packed B,G,R pixels.
void KeyframeBody(const FrameView& frame, std::vector<uint8_t>& out);

// Delta body against `previous` (same size, BGRX, stride width*4): only tiles whose pixels changed,
// each solid (one colour) or XOR against the previous tile. Returns the number of changed tiles;
// `out` is left empty when nothing changed.
uint32_t DeltaBody(const FrameView& current, const uint8_t* previous, int tileSize, std::vector<uint8_t>& out);

}  // namespace lucid
