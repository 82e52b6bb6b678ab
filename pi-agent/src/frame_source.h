// Anything the addon can capture frames from: an X display or a V4L2 device. Frames are BGRX.
#pragma once
#include <string>

#include "tile_differ.h"

namespace lucid {

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // Grabs the next frame. Sets `resized` when the size changed since the last grab.
  virtual std::string Grab(bool& resized) = 0;
  virtual FrameView Current() const = 0;
  virtual int width() const = 0;
  virtual int height() const = 0;
  virtual bool usesShm() const { return false; }
  virtual std::string note() const { return ""; }
  virtual std::string pixelFormat() const { return "BGRX"; }
  virtual void Close() = 0;
};

}  // namespace lucid
