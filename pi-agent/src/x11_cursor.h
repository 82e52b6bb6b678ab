// The pointer of an X display, read beside the pixels: its shape from XFixes (a new image only when
// the displayed cursor changes) and its position with XQueryPointer, on a connection of its own so
// the capture's grabs never wait for it. X's GetImage never includes the cursor, so recorded pixels
// stay cursor-free and the cursor travels as events.
#pragma once
#include <X11/Xlib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lucid {

struct CursorImage {
  uint32_t serial = 0;
  uint16_t width = 0, height = 0, xhot = 0, yhot = 0;
  // width*height premultiplied ARGB, one u32 each (XFixes gives them as unsigned long).
  std::vector<uint32_t> argb;
};

class X11Cursor {
 public:
  ~X11Cursor();
  // Connects to `displayName`. Returns "" or why it cannot. A server without XFIXES is not an
  // error: available() is false, note() says why, and Poll() reports nothing.
  std::string Open(const std::string& displayName);
  void Close();
  bool available() const { return available_; }
  const std::string& note() const { return note_; }
  void MarkConnectionLost() { connectionLost_ = true; }

  // Reads the cursor notifications queued so far without waiting for more; when the displayed
  // cursor's serial is new, fetches its image into `shape` (shapeChanged). Then one XQueryPointer:
  // `moved` when the position differs from the last Poll's. Returns "" or an error message.
  std::string Poll(bool& shapeChanged, CursorImage& shape, bool& moved, int& x, int& y);

 private:
  std::string FetchShape(CursorImage& shape);

  Display* display_ = nullptr;
  Window root_ = 0;
  int fixesEventBase_ = 0;
  bool available_ = false;
  bool connectionLost_ = false;
  bool first_ = true;
  // Whether a notification arrived since the shape was last fetched (true: fetch on the first Poll).
  bool notified_ = true;
  unsigned long lastSerial_ = 0;
  bool haveSerial_ = false;
  int lastX_ = 0, lastY_ = 0;
  std::string note_;
};

}  // namespace lucid
