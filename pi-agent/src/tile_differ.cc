#include "tile_differ.h"

#include <algorithm>
#include <cstring>

namespace lucid {
namespace {

void PutU16(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(v & 0xff);
  out.push_back((v >> 8) & 0xff);
}

void PutU32At(std::vector<uint8_t>& out, size_t at, uint32_t v) {
  for (int i = 0; i < 4; i++) out[at + i] = (v >> (8 * i)) & 0xff;
}

// Colour bytes only: the padding byte of BGRX is not part of the picture.
inline bool SameColour(const uint8_t* a, const uint8_t* b) { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2]; }

bool TileChanged(const FrameView& cur, const uint8_t* prev, size_t prevStride, int x, int y, int w, int h) {
  for (int row = y; row < y + h; row++) {
    const uint8_t* a = cur.data + row * cur.stride + x * 4;
    const uint8_t* b = prev + row * prevStride + x * 4;
    if (std::memcmp(a, b, size_t(w) * 4) == 0) continue;
    for (int i = 0; i < w; i++) {
      if (!SameColour(a + i * 4, b + i * 4)) return true;
    }
  }
  return false;
}

bool TileSolid(const FrameView& cur, int x, int y, int w, int h) {
  const uint8_t* first = cur.data + y * cur.stride + x * 4;
  for (int row = y; row < y + h; row++) {
    const uint8_t* p = cur.data + row * cur.stride + x * 4;
    for (int i = 0; i < w; i++) {
      if (!SameColour(p + i * 4, first)) return false;
    }
  }
  return true;
}

}  // namespace

void KeyframeBody(const FrameView& frame, std::vector<uint8_t>& out) {
  out.resize(4 + size_t(frame.width) * frame.height * 3);
  out[0] = frame.width & 0xff;
  out[1] = (frame.width >> 8) & 0xff;
  out[2] = frame.height & 0xff;
  out[3] = (frame.height >> 8) & 0xff;
  uint8_t* o = out.data() + 4;
  for (int y = 0; y < frame.height; y++) {
    const uint8_t* p = frame.data + y * frame.stride;
    for (int x = 0; x < frame.width; x++, p += 4, o += 3) {
      o[0] = p[0];
      o[1] = p[1];
      o[2] = p[2];
    }
  }
}

uint32_t DeltaBody(const FrameView& cur, const uint8_t* prev, int tileSize, const TileMask& dirty, std::vector<uint8_t>& out) {
  const size_t prevStride = size_t(cur.width) * 4;
  out.clear();
  out.resize(4);
  uint32_t count = 0;
  for (int ty = 0; ty * tileSize < cur.height; ty++) {
    for (int tx = 0; tx * tileSize < cur.width; tx++) {
      if (!dirty.Dirty(tx, ty)) continue;
      const int x = tx * tileSize, y = ty * tileSize;
      const int w = std::min(tileSize, cur.width - x), h = std::min(tileSize, cur.height - y);
      if (!TileChanged(cur, prev, prevStride, x, y, w, h)) continue;
      count++;
      PutU16(out, tx);
      PutU16(out, ty);
      if (TileSolid(cur, x, y, w, h)) {
        const uint8_t* p = cur.data + y * cur.stride + x * 4;
        out.push_back(2);
        out.insert(out.end(), {p[0], p[1], p[2]});
        continue;
      }
      // XOR when most of the tile stayed (mostly zeros), raw when most of it was replaced (a page
      // turned, a scroll): raw pixels repeat what was sent before (glyphs, widgets), which zstd
      // finds, while XOR of two unrelated pictures is noise.
      const size_t encodingAt = out.size();
      out.push_back(1);
      size_t at = out.size();
      out.resize(at + size_t(w) * h * 3);
      uint8_t* o = out.data() + at;
      size_t changedPixels = 0;
      for (int row = y; row < y + h; row++) {
        const uint8_t* a = cur.data + row * cur.stride + x * 4;
        const uint8_t* b = prev + row * prevStride + x * 4;
        for (int i = 0; i < w; i++, a += 4, b += 4, o += 3) {
          o[0] = a[0] ^ b[0];
          o[1] = a[1] ^ b[1];
          o[2] = a[2] ^ b[2];
          changedPixels += (o[0] | o[1] | o[2]) != 0;
        }
      }
      if (changedPixels * 2 > size_t(w) * h) {
        out[encodingAt] = 0;
        o = out.data() + at;
        for (int row = y; row < y + h; row++) {
          const uint8_t* a = cur.data + row * cur.stride + x * 4;
          for (int i = 0; i < w; i++, a += 4, o += 3) {
            o[0] = a[0];
            o[1] = a[1];
            o[2] = a[2];
          }
        }
      }
    }
  }
  if (count == 0) {
    out.clear();
    return 0;
  }
  PutU32At(out, 0, count);
  return count;
}

void CopyTiles(const FrameView& cur, const TileMask& dirty, std::vector<uint8_t>& previous) {
  const size_t row = size_t(cur.width) * 4;
  if (dirty.all || previous.size() != row * cur.height) {
    previous.resize(row * cur.height);
    for (int y = 0; y < cur.height; y++) std::memcpy(previous.data() + y * row, cur.data + y * cur.stride, row);
    return;
  }
  const int ts = dirty.tileSize;
  for (int ty = 0; ty < dirty.rows; ty++) {
    for (int tx = 0; tx < dirty.cols; tx++) {
      if (!dirty.Dirty(tx, ty)) continue;
      const int x = tx * ts, y = ty * ts;
      const int w = std::min(ts, cur.width - x), h = std::min(ts, cur.height - y);
      for (int r = y; r < y + h; r++) std::memcpy(previous.data() + r * row + x * 4, cur.data + r * cur.stride + x * 4, size_t(w) * 4);
    }
  }
}

}  // namespace lucid
