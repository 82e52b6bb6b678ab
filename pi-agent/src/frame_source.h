// Anything the addon can capture frames from: an X display or a V4L2 device. Frames are BGRX.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tile_differ.h"

namespace lucid {

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // Grabs the next frame. Sets `resized` when the size changed since the last grab. `dirty` says
  // which tiles of `tileSize` may differ from the previous grab (all of them when the source
  // cannot tell); the differ looks at no other tile.
  virtual std::string Grab(bool& resized, int tileSize, TileMask& dirty) = 0;
  virtual FrameView Current() const = 0;
  // Pixels the last Grab() read from the source (0 when nothing was drawn).
  virtual double grabbedPixels() const { return double(width()) * height(); }
  virtual int width() const = 0;
  virtual int height() const = 0;
  virtual bool usesShm() const { return false; }
  // true when only what the X server reported as damaged is grabbed (else every frame is grabbed whole)
  virtual bool usesDamage() const { return false; }
  virtual std::string note() const { return ""; }
  // true when the source knows, without a round trip, that nothing changed since the last grab
  // (so the next tick needs no work at all). Called on the JS thread between grabs.
  virtual bool Idle() { return false; }
  virtual std::string pixelFormat() const { return "BGRX"; }
  virtual void Close() = 0;
};

}  // namespace lucid
