#include "x11_cursor.h"

#include <X11/extensions/Xfixes.h>

#include <algorithm>

namespace lucid {
namespace {

// Xlib's default answer to a lost connection is exit(); as in the capture, the agent lives on and
// the next Poll says the connection is gone.
int IgnoreIOError(Display*) { return 0; }
// Xlib's default answer to a protocol error is exit() too. The capture installs its own handler;
// opened without one, the cursor installs one that ignores them (each request here is checked).
int IgnoreXError(Display*, XErrorEvent*) { return 0; }
void AvoidExitOnXError() {
  XErrorHandler current = XSetErrorHandler(nullptr);  // installs the default, returns what was there
  XErrorHandler fallback = XSetErrorHandler(nullptr);  // the default itself
  XSetErrorHandler(current == fallback ? IgnoreXError : current);
}
void ConnectionLost(Display*, void* cursor) { static_cast<X11Cursor*>(cursor)->MarkConnectionLost(); }

}  // namespace

X11Cursor::~X11Cursor() { Close(); }

std::string X11Cursor::Open(const std::string& displayName) {
  XSetIOErrorHandler(IgnoreIOError);
  AvoidExitOnXError();
  display_ = XOpenDisplay(displayName.c_str());
  if (!display_) return "cannot open X display \"" + displayName + "\" for the cursor";
  XSetIOErrorExitHandler(display_, ConnectionLost, this);
  root_ = RootWindow(display_, DefaultScreen(display_));
  int fixesError = 0, major = 0, minor = 0;
  if (!XFixesQueryExtension(display_, &fixesEventBase_, &fixesError) || !XFixesQueryVersion(display_, &major, &minor) ||
      major < 2) {
    note_ = "the X server has no XFIXES extension (version 2 or later): the cursor is not recorded";
    return "";
  }
  available_ = true;
  XFixesSelectCursorInput(display_, root_, XFixesDisplayCursorNotifyMask);
  XFlush(display_);
  return "";
}

void X11Cursor::Close() {
  if (display_ && !connectionLost_) XCloseDisplay(display_);
  display_ = nullptr;
  available_ = false;
}

std::string X11Cursor::FetchShape(CursorImage& shape) {
  XFixesCursorImage* image = XFixesGetCursorImage(display_);
  if (!image) return connectionLost_ ? "the X connection was lost" : "";  // no cursor shown just now
  shape.serial = uint32_t(image->cursor_serial);
  shape.width = uint16_t(std::min<int>(image->width, 0xffff));
  shape.height = uint16_t(std::min<int>(image->height, 0xffff));
  shape.xhot = image->xhot;
  shape.yhot = image->yhot;
  const size_t n = size_t(shape.width) * shape.height;
  shape.argb.resize(n);
  // XFixes hands each pixel as an unsigned long (64 bits on LP64) holding 32 bits of ARGB.
  for (size_t i = 0; i < n; i++) shape.argb[i] = uint32_t(image->pixels[i]);
  lastSerial_ = image->cursor_serial;
  haveSerial_ = true;
  XFree(image);
  return "";
}

std::string X11Cursor::Poll(bool& shapeChanged, CursorImage& shape, bool& moved, int& x, int& y) {
  shapeChanged = false;
  moved = false;
  if (!display_) return "the cursor is closed";
  if (connectionLost_) return "the X connection was lost";
  if (!available_) return "";
  // Only what already arrived: XEventsQueued(QueuedAfterReading) reads the socket without blocking.
  while (XEventsQueued(display_, QueuedAfterReading) > 0) {
    XEvent event;
    XNextEvent(display_, &event);
    if (event.type == fixesEventBase_ + XFixesCursorNotify) {
      auto* notify = reinterpret_cast<XFixesCursorNotifyEvent*>(&event);
      if (!haveSerial_ || notify->cursor_serial != lastSerial_) notified_ = true;
    }
  }
  if (connectionLost_) return "the X connection was lost";
  if (notified_) {
    // Between two cursors the server may show none (and answer no image): the next notification
    // brings the one that follows.
    notified_ = false;
    const unsigned long before = lastSerial_;
    const bool had = haveSerial_;
    shape.argb.clear();
    std::string err = FetchShape(shape);
    if (!err.empty()) return err;
    shapeChanged = haveSerial_ && (!had || lastSerial_ != before);
  }
  Window rootReturn, child;
  int rootX = 0, rootY = 0, winX = 0, winY = 0;
  unsigned int mask = 0;
  if (!XQueryPointer(display_, root_, &rootReturn, &child, &rootX, &rootY, &winX, &winY, &mask)) {
    // The pointer is on another screen of this display: nothing to show on the recorded one.
    return connectionLost_ ? "the X connection was lost" : "";
  }
  if (connectionLost_) return "the X connection was lost";
  moved = first_ || rootX != lastX_ || rootY != lastY_;
  first_ = false;
  lastX_ = x = rootX;
  lastY_ = y = rootY;
  return "";
}

}  // namespace lucid
