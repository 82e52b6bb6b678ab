// Emits recording-stream record bodies (see shared/recording/format.ts) from 32-bit BGRX frames.
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

// Which tiles of a frame may have changed since the previous grab: `all`, or one flag a tile.
struct TileMask {
  int cols = 0;
  int rows = 0;
  int tileSize = 0;
  bool all = true;
  std::vector<uint8_t> tiles;  // cols*rows flags when !all

  void Reset(int width, int height, int size) {
    tileSize = size;
    cols = (width + size - 1) / size;
    rows = (height + size - 1) / size;
    all = false;
    tiles.assign(size_t(cols) * rows, 0);
  }
  void SetAll(int width, int height, int size) {
    Reset(width, height, size);
    all = true;
  }
  bool Dirty(int tx, int ty) const { return all || tiles[size_t(ty) * cols + tx]; }
  bool Any() const {
    if (all) return true;
    for (uint8_t t : tiles)
      if (t) return true;
    return false;
  }
  size_t Count() const {
    if (all) return size_t(cols) * rows;
    size_t n = 0;
    for (uint8_t t : tiles) n += t;
    return n;
  }
};

// Keyframe body: width u16, height u16, packed B,G,R pixels.
void KeyframeBody(const FrameView& frame, std::vector<uint8_t>& out);

// Delta body against `previous` (same size, BGRX, stride width*4): only tiles whose pixels changed,
// each solid (one colour), XOR against the previous tile (most of it unchanged) or raw (most of it
// replaced). Only tiles `dirty` marks are looked at.
// Returns the number of changed tiles; `out` is left empty when nothing changed.
uint32_t DeltaBody(const FrameView& current, const uint8_t* previous, int tileSize, const TileMask& dirty,
                   std::vector<uint8_t>& out);

// Copies the tiles `dirty` marks (or the whole frame) from `current` into `previous` (stride width*4).
void CopyTiles(const FrameView& current, const TileMask& dirty, std::vector<uint8_t>& previous);

}  // namespace lucid
