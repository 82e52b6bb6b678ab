// A V4L2 device as a FrameSource for the addon.
#pragma once
#include "frame_source.h"
#include "v4l2_capture.h"

namespace lucid {

class V4l2Source : public FrameSource {
 public:
  V4l2Source() : capture_(io_) {}
  std::string Open(const std::string& path, int width, int height) { return capture_.Open(path, width, height); }
  std::string Grab(bool& resized, int tileSize, TileMask& dirty) override {
    resized = false;
    dirty.SetAll(width(), height(), tileSize);
    return capture_.Grab(2000);
  }
  FrameView Current() const override { return capture_.Current(); }
  int width() const override { return capture_.format().width; }
  int height() const override { return capture_.format().height; }
  std::string pixelFormat() const override { return FourccName(capture_.format().fourcc); }
  void Close() override { capture_.Close(); }

 private:
  SystemV4l2Io io_;
  V4l2Capture capture_;
};

}  // namespace lucid
