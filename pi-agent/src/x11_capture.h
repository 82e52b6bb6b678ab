// Captures the root window of an X11 display, with MIT-SHM when the server allows it. With the
// DAMAGE extension only the rectangles the server reports as drawn on are grabbed (whole frames
// otherwise, or when asked to poll).
#pragma once
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/Xdamage.h>
#include <X11/extensions/Xfixes.h>

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
  // `allowDamage` false grabs every frame whole (the polling capture, kept as a fallback and baseline).
  std::string Open(const std::string& displayName, bool allowShm = true, bool allowDamage = true);
  // Called by Xlib when the connection dies; later calls fail with a message instead of exiting.
  void MarkConnectionLost() { connectionLost_ = true; }
  void Close() override;
  // Grabs the current screen into the image buffer. Sets `resized` when the screen size changed.
  std::string Grab(bool& resized, int tileSize, TileMask& dirty) override;
  FrameView Current() const override;

  int width() const override { return width_; }
  int height() const override { return height_; }
  bool usesShm() const override { return shm_; }
  bool usesDamage() const override { return damage_ != 0; }
  double grabbedPixels() const override { return grabbedPixels_; }
  bool Idle() override;
  std::string note() const override { return note_; }

 private:
  struct Rect {
    int x, y, w, h;
  };
  std::string CreateImage();
  void DestroyImage();
  std::string GrabWhole();
  std::string GrabRect(const Rect& r);
  // The damage reported since the last call, as a tile mask; false when the connection failed.
  bool TakeDamage(int tileSize, TileMask& dirty);
  // Reads queued events (no round trip): notes any DamageNotify.
  void DrainEvents();

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
  XImage* image_ = nullptr;  // the whole current screen; with MIT-SHM, the first half of the segment
  size_t frameBytes_ = 0;    // with MIT-SHM, the segment's second half is scratch for partial grabs
  Damage damage_ = 0;
  XserverRegion region_ = 0;
  int damageEventBase_ = 0;
  bool grabbedOnce_ = false;
  // A DamageNotify arrived since the damage was last taken (or we have not taken it yet).
  bool damageNotified_ = true;
  double grabbedPixels_ = 0;
  std::string note_;
};

}  // namespace lucid
