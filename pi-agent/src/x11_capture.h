// Captures the root window of an X11 display, with MIT-SHM when the server allows it.
#pragma once
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>

#include <cstdint>
#include <string>
#include <vector>

#include "frame_source.h"

namespace lucid {

class X11Capture : public FrameSource {
 public:
  ~X11Capture() override;
  // Connects to `displayName` (e.g. ":99"). Returns "" or a message saying what failed and why.
  // `allowShm` false forces the XGetImage path (for hosts where MIT-SHM cannot work).
  std::string Open(const std::string& displayName, bool allowShm = true);
  // Called by Xlib when the connection dies; later calls fail with a message instead of exiting.
  void MarkConnectionLost() { connectionLost_ = true; }
  void Close() override;
  // Grabs the current screen into the image buffer. Sets `resized` when the screen size changed.
  std::string Grab(bool& resized) override;
  FrameView Current() const override;

  int width() const override { return width_; }
  int height() const override { return height_; }
  bool usesShm() const override { return shm_; }
  std::string note() const override { return note_; }

 private:
  std::string CreateImage();
  void DestroyImage();

  Display* display_ = nullptr;
  Window root_ = 0;
  Visual* visual_ = nullptr;
  int depth_ = 0;
  int width_ = 0;
  int height_ = 0;
  bool shmAvailable_ = false;
  bool shm_ = false;
  bool connectionLost_ = false;
  std::string displayName_;
  XShmSegmentInfo shmInfo_{};
  XImage* image_ = nullptr;
  std::string note_;
};

}  // namespace lucid
