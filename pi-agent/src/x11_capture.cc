#include "x11_capture.h"

#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <unistd.h>

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

std::string X11Capture::Open(const std::string& displayName, bool allowShm) {
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
  return CreateImage();
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
      shmInfo_.shmid = shmget(IPC_PRIVATE, size_t(image_->bytes_per_line) * image_->height, IPC_CREAT | 0600);
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
  // After a lost connection XCloseDisplay would wait on the dead socket forever: close only the
  // socket and leave the small Display struct behind.
  if (connectionLost_) close(ConnectionNumber(display_));
  else XCloseDisplay(display_);
  display_ = nullptr;
}

std::string X11Capture::Grab(bool& resized) {
  resized = false;
  if (!display_) return "the capture is closed";
  const std::string lost = "lost the connection to X display \"" + displayName_ + "\" (the X server exited or dropped us)";
  if (connectionLost_) return lost;
  XWindowAttributes attrs;
  if (!XGetWindowAttributes(display_, root_, &attrs)) return connectionLost_ ? lost : "lost the root window";
  if (attrs.width != width_ || attrs.height != height_) {
    DestroyImage();
    resized = true;
    std::string err = CreateImage();
    if (!err.empty()) return err;
  }
  lastXError = 0;
  if (shm_) {
    if (!XShmGetImage(display_, root_, image_, 0, 0, AllPlanes) || connectionLost_) {
      return connectionLost_ ? lost : "XShmGetImage failed: " + XErrorText(display_, lastXError);
    }
  } else {
    XImage* fresh = XGetImage(display_, root_, 0, 0, width_, height_, AllPlanes, ZPixmap);
    if (!fresh || connectionLost_) return connectionLost_ ? lost : "XGetImage failed: " + XErrorText(display_, lastXError);
    if (image_) XDestroyImage(image_);
    image_ = fresh;
  }
  if (image_->bits_per_pixel != 32) return "the screen image is not 32 bits a pixel";
  return "";
}

FrameView X11Capture::Current() const {
  return FrameView{reinterpret_cast<const uint8_t*>(image_->data), width_, height_, size_t(image_->bytes_per_line)};
}

}  // namespace lucid
