// V4L2 capture with MMAP streaming: negotiates YUYV (preferred) or MJPEG, converts frames
// to BGRX so the same tile differ serves cameras, HDMI dongles and X displays.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tile_differ.h"
#include "v4l2_io.h"

namespace lucid {

struct V4l2Format {
  uint32_t fourcc = 0;
  int width = 0;
  int height = 0;
  uint32_t bytesPerLine = 0;
  uint32_t sizeImage = 0;
};

std::string FourccName(uint32_t fourcc);

// BT.601 limited-range YUYV (Y0 U Y1 V) to BGRX.
void YuyvToBgrx(const uint8_t* yuyv, int width, int height, uint32_t bytesPerLine, uint8_t* bgrx);

// Decodes one Motion-JPEG frame (libjpeg-turbo) into BGRX; "" or why it failed.
std::string DecodeMjpeg(const uint8_t* data, size_t size, int width, int height, uint8_t* bgrx);

class V4l2Capture {
 public:
  static constexpr int kBuffers = 4;
  explicit V4l2Capture(V4l2Io& io) : io_(io) {}
  ~V4l2Capture() { Close(); }
  // Opens `path`, asks for width x height (the driver may pick the nearest size), maps buffers and
  // starts streaming. Returns "" or what failed, in words an operator can act on.
  std::string Open(const std::string& path, int width, int height);
  // Waits for the next frame (up to timeoutMs) and converts it into the BGRX frame buffer.
  std::string Grab(int timeoutMs);
  FrameView Current() const { return FrameView{frame_.data(), format_.width, format_.height, size_t(format_.width) * 4}; }
  const V4l2Format& format() const { return format_; }
  void Close();

 private:
  std::string Fail(const std::string& what, int err);
  V4l2Io& io_;
  std::string path_;
  int fd_ = -1;
  bool streaming_ = false;
  V4l2Format format_;
  struct Mapped {
    void* address = nullptr;
    size_t length = 0;
  };
  std::vector<Mapped> buffers_;
  std::vector<uint8_t> frame_;
};

}  // namespace lucid
