#include "x11_capture.h"

#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace lucid {
namespace {

// Xlib reports protocol errors through one process-wide handler; each capture runs its X calls on
// one thread at a time, so a thread-local slot tells the caller what its own request hit.
thread_local int lastXError = 0;

int RecordXError(Display*, XErrorEvent* event) {
  lastXError = event->error_code;
  return 0;
}

std::string XErrorText(Display* display, int code) {
  char text[256] = {0};
  XGetErrorText(display, code, text, sizeof text);
  return text;
}

// Xlib's default answer to a lost connection is exit(); the exit handler (libX11 >= 1.7) lets the
// agent live on, so it can seal what it recorded and report the error.
int IgnoreIOError(Display*) { return 0; }
void ConnectionLost(Display*, void* capture) { static_cast<X11Capture*>(capture)->MarkConnectionLost(); }

// A root agent capturing a session user's X server (xrdp's Xorg runs as that user): the server may
// only attach segments it could open itself, so hand the 0600 segment to the server's uid, found
// from the peer credentials of the local X socket.
void GiveSegmentToServer(Display* display, int shmid) {
  if (geteuid() != 0) return;
  ucred peer{};
  socklen_t len = sizeof peer;
  if (getsockopt(ConnectionNumber(display), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || peer.uid == 0) return;
  shmid_ds ds{};
  if (shmctl(shmid, IPC_STAT, &ds) != 0) return;
  ds.shm_perm.uid = peer.uid;
  shmctl(shmid, IPC_SET, &ds);
}

}  // namespace

X11Capture::~X11Capture() { Close(); }

std::string X11Capture::Open(const std::string& displayName, bool allowShm, bool allowDamage) {
  XSetErrorHandler(RecordXError);
  XSetIOErrorHandler(IgnoreIOError);
  displayName_ = displayName;
  display_ = XOpenDisplay(displayName.c_str());
  if (!display_) return "cannot open X display \"" + displayName + "\": is the X server running and DISPLAY/XAUTHORITY allowing us?";
  XSetIOErrorExitHandler(display_, ConnectionLost, this);
  int screen = DefaultScreen(display_);
  root_ = RootWindow(display_, screen);
  visual_ = DefaultVisual(display_, screen);
  depth_ = DefaultDepth(display_, screen);
  if ((depth_ != 24 && depth_ != 32) || visual_->red_mask != 0xff0000 || visual_->green_mask != 0xff00 ||
      visual_->blue_mask != 0xff) {
    std::string err = "display \"" + displayName + "\" has depth " + std::to_string(depth_) +
                      "; only 24-bit TrueColor (BGRX) screens can be recorded losslessly";
    Close();
    return err;
  }
  int major, minor;
  Bool pixmaps;
  shmAvailable_ = allowShm && XShmQueryVersion(display_, &major, &minor, &pixmaps);
  if (!allowShm) note_ = "MIT-SHM disabled by the caller: using XGetImage, which is ~20x slower";
  else if (!shmAvailable_) note_ = "the X server has no MIT-SHM extension: using XGetImage, which is ~20x slower";
  std::string err = CreateImage();
  if (!err.empty()) return err;
  int damageError = 0, fixesEvent = 0, fixesError = 0;
  if (!allowDamage) {
    note_ += std::string(note_.empty() ? "" : "; ") + "DAMAGE disabled by the caller: grabbing whole frames every tick";
  } else if (!XDamageQueryExtension(display_, &damageEventBase_, &damageError) ||
             !XFixesQueryExtension(display_, &fixesEvent, &fixesError)) {
    note_ += std::string(note_.empty() ? "" : "; ") +
             "the X server has no DAMAGE (or XFIXES) extension: grabbing whole frames every tick, which costs more CPU";
  } else {
    int major = 0, minor = 0;
    XDamageQueryVersion(display_, &major, &minor);
    XFixesQueryVersion(display_, &major, &minor);
    lastXError = 0;
    // NonEmpty: at most one event per emptied region; the region itself is fetched every tick.
    damage_ = XDamageCreate(display_, root_, XDamageReportNonEmpty);
    region_ = XFixesCreateRegion(display_, nullptr, 0);
    XSync(display_, False);
    if (lastXError != 0) {
      note_ += std::string(note_.empty() ? "" : "; ") + "XDamageCreate failed (" + XErrorText(display_, lastXError) +
               "): grabbing whole frames every tick";
      damage_ = 0;
      region_ = 0;
    }
  }
  return "";
}

std::string X11Capture::CreateImage() {
  XWindowAttributes attrs;
  if (!XGetWindowAttributes(display_, root_, &attrs)) return "cannot read the root window's size";
  width_ = attrs.width;
  height_ = attrs.height;
  if (width_ > 0xffff || height_ > 0xffff) return "screen is larger than 65535 pixels, which the recording format cannot hold";
  shm_ = false;
  if (shmAvailable_) {
    image_ = XShmCreateImage(display_, visual_, depth_, ZPixmap, nullptr, &shmInfo_, width_, height_);
    if (image_) {
      frameBytes_ = size_t(image_->bytes_per_line) * image_->height;
      shmInfo_.shmid = shmget(IPC_PRIVATE, frameBytes_ * 2, IPC_CREAT | 0600);
      if (shmInfo_.shmid >= 0) {
        shmInfo_.shmaddr = image_->data = static_cast<char*>(shmat(shmInfo_.shmid, nullptr, 0));
        shmInfo_.readOnly = False;
        GiveSegmentToServer(display_, shmInfo_.shmid);
        lastXError = 0;
        bool attached = XShmAttach(display_, &shmInfo_);
        XSync(display_, False);
        // Marked for removal now: the kernel frees it once both we and the server detach.
        shmctl(shmInfo_.shmid, IPC_RMID, nullptr);
        if (attached && lastXError == 0) {
          shm_ = true;
          return "";
        }
        note_ = "XShmAttach failed (" + XErrorText(display_, lastXError) +
                "; the X server may run as another user or in another IPC namespace): using XGetImage, ~20x slower";
        shmdt(shmInfo_.shmaddr);
      } else {
        note_ = std::string("shmget failed (") + std::strerror(errno) + "): using XGetImage, ~20x slower";
      }
      image_->data = nullptr;
      XDestroyImage(image_);
      image_ = nullptr;
    }
  }
  return "";
}

void X11Capture::DestroyImage() {
  if (!image_) return;
  if (shm_ && !connectionLost_) {
    XShmDetach(display_, &shmInfo_);
    XSync(display_, False);
    image_->data = nullptr;
    XDestroyImage(image_);
    shmdt(shmInfo_.shmaddr);
  } else if (shm_) {
    image_->data = nullptr;
    XDestroyImage(image_);
    shmdt(shmInfo_.shmaddr);
  } else {
    XDestroyImage(image_);
  }
  image_ = nullptr;
}

void X11Capture::Close() {
  if (!display_) return;
  DestroyImage();
  if (damage_ && !connectionLost_) {
    XDamageDestroy(display_, damage_);
    XFixesDestroyRegion(display_, region_);
  }
  damage_ = 0;
  region_ = 0;
  // After a lost connection XCloseDisplay would wait on the dead socket forever: close only the
  // socket and leave the small Display struct behind.
  if (connectionLost_) close(ConnectionNumber(display_));
  else XCloseDisplay(display_);
  display_ = nullptr;
}

std::string X11Capture::GrabWhole() {
  lastXError = 0;
  if (shm_) {
    if (!XShmGetImage(display_, root_, image_, 0, 0, AllPlanes) || connectionLost_) {
      return connectionLost_ ? "" : "XShmGetImage failed: " + XErrorText(display_, lastXError);
    }
  } else {
    XImage* fresh = XGetImage(display_, root_, 0, 0, width_, height_, AllPlanes, ZPixmap);
    if (!fresh || connectionLost_) return connectionLost_ ? "" : "XGetImage failed: " + XErrorText(display_, lastXError);
    if (image_) XDestroyImage(image_);
    image_ = fresh;
  }
  if (image_->bits_per_pixel != 32) return "the screen image is not 32 bits a pixel";
  return "";
}

// Grabs one rectangle into the whole-screen image: through the segment's scratch half with MIT-SHM
// (straight into place when it spans whole rows), else with XGetImage.
std::string X11Capture::GrabRect(const Rect& r) {
  lastXError = 0;
  char* dst = image_->data + size_t(r.y) * image_->bytes_per_line + size_t(r.x) * 4;
  if (shm_) {
    const bool wholeRows = r.x == 0 && r.w == width_ && size_t(image_->bytes_per_line) == size_t(width_) * 4;
    XImage* part = XShmCreateImage(display_, visual_, depth_, ZPixmap, wholeRows ? dst : shmInfo_.shmaddr + frameBytes_,
                                   &shmInfo_, r.w, r.h);
    if (!part) return "XShmCreateImage failed for a partial grab";
    Bool ok = XShmGetImage(display_, root_, part, r.x, r.y, AllPlanes);
    if (ok && !connectionLost_ && !wholeRows) {
      for (int y = 0; y < r.h; y++) std::memcpy(dst + size_t(y) * image_->bytes_per_line, part->data + size_t(y) * part->bytes_per_line, size_t(r.w) * 4);
    }
    part->data = nullptr;
    XDestroyImage(part);
    if (!ok || connectionLost_) return connectionLost_ ? "" : "XShmGetImage failed: " + XErrorText(display_, lastXError);
    return "";
  }
  XImage* part = XGetImage(display_, root_, r.x, r.y, r.w, r.h, AllPlanes, ZPixmap);
  if (!part || connectionLost_) return connectionLost_ ? "" : "XGetImage failed: " + XErrorText(display_, lastXError);
  if (part->bits_per_pixel != 32) {
    XDestroyImage(part);
    return "the screen image is not 32 bits a pixel";
  }
  for (int y = 0; y < r.h; y++) std::memcpy(dst + size_t(y) * image_->bytes_per_line, part->data + size_t(y) * part->bytes_per_line, size_t(r.w) * 4);
  XDestroyImage(part);
  return "";
}

void X11Capture::DrainEvents() {
  while (!connectionLost_ && XPending(display_) > 0) {
    XEvent event;
    XNextEvent(display_, &event);
    if (event.type == damageEventBase_ + XDamageNotify) damageNotified_ = true;
  }
}

// With ReportNonEmpty the server sends one DamageNotify each time the damage goes from empty to
// drawn on, written out with the drawing client's own replies: once a client's drawing is done
// (XSync), our notice is on our socket. No notice since the damage was taken: nothing was drawn.
bool X11Capture::Idle() {
  if (!display_ || !damage_ || !grabbedOnce_ || connectionLost_) return false;
  DrainEvents();
  return !damageNotified_ && !connectionLost_;
}

bool X11Capture::TakeDamage(int tileSize, TileMask& dirty) {
  dirty.Reset(width_, height_, tileSize);
  // The events only say "something was drawn"; the region below is the truth.
  DrainEvents();
  damageNotified_ = false;
  // Subtract first, grab after: whatever is drawn in between is both grabbed now and reported
  // again next tick, so nothing drawn is ever missed.
  XDamageSubtract(display_, damage_, None, region_);
  int count = 0;
  XRectangle* rects = XFixesFetchRegion(display_, region_, &count);
  if (connectionLost_) {
    if (rects) XFree(rects);
    return false;
  }
  for (int i = 0; i < count; i++) {
    const int x0 = std::max(0, int(rects[i].x)), y0 = std::max(0, int(rects[i].y));
    const int x1 = std::min(width_, int(rects[i].x) + int(rects[i].width));
    const int y1 = std::min(height_, int(rects[i].y) + int(rects[i].height));
    if (x1 <= x0 || y1 <= y0) continue;
    for (int ty = y0 / tileSize; ty <= (y1 - 1) / tileSize; ty++) {
      for (int tx = x0 / tileSize; tx <= (x1 - 1) / tileSize; tx++) dirty.tiles[size_t(ty) * dirty.cols + tx] = 1;
    }
  }
  if (rects) XFree(rects);
  return true;
}

std::string X11Capture::Grab(bool& resized, int tileSize, TileMask& dirty) {
  resized = false;
  grabbedPixels_ = 0;
  if (!display_) return "the capture is closed";
  const std::string lost = "lost the connection to X display \"" + displayName_ + "\" (the X server exited or dropped us)";
  if (connectionLost_) return lost;
  if (damage_) {
    // Taken before the first whole grab too, so what was drawn before it is not grabbed again.
    if (!TakeDamage(tileSize, dirty)) return lost;
    if (grabbedOnce_ && !dirty.Any()) return "";  // nothing drawn: no grab at all
  }
  XWindowAttributes attrs;
  if (!XGetWindowAttributes(display_, root_, &attrs)) return connectionLost_ ? lost : "lost the root window";
  if (attrs.width != width_ || attrs.height != height_) {
    DestroyImage();
    resized = true;
    std::string err = CreateImage();
    if (!err.empty()) return err;
  }
  if (!damage_ || !grabbedOnce_ || resized || dirty.Count() * 2 > size_t(dirty.cols) * dirty.rows) {
    // The first grab, a resize, polling, or most of the screen drawn on: one whole grab.
    dirty.SetAll(width_, height_, tileSize);
    std::string err = GrabWhole();
    if (connectionLost_) return lost;
    if (!err.empty()) return err;
    grabbedOnce_ = true;
    grabbedPixels_ = double(width_) * height_;
    return "";
  }
  // Runs of dirty tiles along each tile row, merged down while the next row's run has the same span.
  std::vector<Rect> rects;
  std::vector<size_t> open, next;
  for (int ty = 0; ty < dirty.rows; ty++) {
    next.clear();
    for (int tx = 0; tx < dirty.cols;) {
      if (!dirty.tiles[size_t(ty) * dirty.cols + tx]) {
        tx++;
        continue;
      }
      const int start = tx;
      while (tx < dirty.cols && dirty.tiles[size_t(ty) * dirty.cols + tx]) tx++;
      const int x = start * tileSize, y = ty * tileSize;
      const Rect r{x, y, std::min(width_, tx * tileSize) - x, std::min(height_, y + tileSize) - y};
      size_t merged = SIZE_MAX;
      for (size_t i : open) {
        if (rects[i].x == r.x && rects[i].w == r.w && rects[i].y + rects[i].h == r.y) merged = i;
      }
      if (merged != SIZE_MAX) {
        rects[merged].h += r.h;
        next.push_back(merged);
      } else {
        next.push_back(rects.size());
        rects.push_back(r);
      }
    }
    open.swap(next);
  }
  for (const Rect& r : rects) {
    std::string err = GrabRect(r);
    if (connectionLost_) return lost;
    if (!err.empty()) return err;
    grabbedPixels_ += double(r.w) * r.h;
  }
  return "";
}

FrameView X11Capture::Current() const {
  return FrameView{reinterpret_cast<const uint8_t*>(image_->data), width_, height_, size_t(image_->bytes_per_line)};
}

}  // namespace lucid
