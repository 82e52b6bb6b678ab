// Test support only (never loaded by the agent): draws known pixels on an X display's root window so
// tests can compare what the capture recorded with what was drawn, and runs the V4L2 capture
// against a simulated device.
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/cursorfont.h>
#include <X11/extensions/Xfixes.h>
#include <X11/extensions/Xrender.h>
#include <napi.h>

#include <cstring>
#include <map>

namespace lucid {
Napi::Value V4l2Scenario(const Napi::CallbackInfo& info);
Napi::Value EncodeJpeg(const Napi::CallbackInfo& info);
}

namespace {

// putImage(display, x, y, width, height, bgrx: Buffer) -> "" or an error message
Napi::Value PutImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsString() || !info[5].IsBuffer()) {
    return Napi::String::New(env, "putImage(display, x, y, width, height, bgrx)");
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int x = info[1].As<Napi::Number>().Int32Value(), y = info[2].As<Napi::Number>().Int32Value();
  int w = info[3].As<Napi::Number>().Int32Value(), h = info[4].As<Napi::Number>().Int32Value();
  auto buffer = info[5].As<Napi::Buffer<uint8_t>>();
  if (w <= 0 || h <= 0 || buffer.Length() != size_t(w) * h * 4) return Napi::String::New(env, "buffer must be width*height*4 bytes");
  Display* display = XOpenDisplay(name.c_str());
  if (!display) return Napi::String::New(env, "cannot open display " + name);
  int screen = DefaultScreen(display);
  char* data = static_cast<char*>(malloc(buffer.Length()));
  std::memcpy(data, buffer.Data(), buffer.Length());
  XImage* image = XCreateImage(display, DefaultVisual(display, screen), DefaultDepth(display, screen), ZPixmap, 0, data, w,
                               h, 32, w * 4);
  GC gc = XCreateGC(display, RootWindow(display, screen), 0, nullptr);
  XPutImage(display, RootWindow(display, screen), gc, image, 0, 0, x, y, w, h);
  XSync(display, False);
  XFreeGC(display, gc);
  XDestroyImage(image);
  XCloseDisplay(display);
  return Napi::String::New(env, "");
}

// Windows opened by openWindow, each on its own connection (closing it destroys the window).
std::map<int, std::pair<Display*, Window>> windows;
int nextWindow = 1;

// openWindow(display, x, y, width, height, bgrx) -> id (> 0) or an error message. An override-redirect
// child of the root, mapped and drawn into: its pixels reach the screen through the window, not the root.
Napi::Value OpenWindow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsString() || !info[5].IsBuffer()) return Napi::String::New(env, "openWindow(display, x, y, width, height, bgrx)");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int x = info[1].As<Napi::Number>().Int32Value(), y = info[2].As<Napi::Number>().Int32Value();
  int w = info[3].As<Napi::Number>().Int32Value(), h = info[4].As<Napi::Number>().Int32Value();
  auto buffer = info[5].As<Napi::Buffer<uint8_t>>();
  if (w <= 0 || h <= 0 || buffer.Length() != size_t(w) * h * 4) return Napi::String::New(env, "buffer must be width*height*4 bytes");
  Display* display = XOpenDisplay(name.c_str());
  if (!display) return Napi::String::New(env, "cannot open display " + name);
  int screen = DefaultScreen(display);
  XSetWindowAttributes attrs{};
  attrs.override_redirect = True;
  attrs.background_pixmap = None;
  Window window = XCreateWindow(display, RootWindow(display, screen), x, y, w, h, 0, CopyFromParent, InputOutput, CopyFromParent,
                                CWOverrideRedirect | CWBackPixmap, &attrs);
  XSelectInput(display, window, ExposureMask);
  XMapWindow(display, window);
  XEvent event;
  XWindowEvent(display, window, ExposureMask, &event);  // mapped and viewable
  char* data = static_cast<char*>(malloc(buffer.Length()));
  std::memcpy(data, buffer.Data(), buffer.Length());
  XImage* image = XCreateImage(display, DefaultVisual(display, screen), DefaultDepth(display, screen), ZPixmap, 0, data, w, h, 32, w * 4);
  GC gc = XCreateGC(display, window, 0, nullptr);
  XPutImage(display, window, gc, image, 0, 0, 0, 0, w, h);
  XFreeGC(display, gc);
  XDestroyImage(image);
  XSync(display, False);
  windows[nextWindow] = {display, window};
  return Napi::Number::New(env, nextWindow++);
}

// closeWindow(id): destroys the window (the root's background shows again where it was).
Napi::Value CloseWindow(const Napi::CallbackInfo& info) {
  auto it = windows.find(info[0].As<Napi::Number>().Int32Value());
  if (it != windows.end()) {
    if (it->second.second != None) XDestroyWindow(it->second.first, it->second.second);
    XSync(it->second.first, False);  // gone (and the root repainted) before this returns
    XCloseDisplay(it->second.first);
    windows.erase(it);
  }
  return info.Env().Undefined();
}

// ownSelection(display, selection) -> id (> 0) or an error message. An unmapped window takes the
// selection and its connection is never read: a selection owner that never answers a request.
// closeWindow(id) lets it go.
Napi::Value OwnSelection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) return Napi::String::New(env, "ownSelection(display, selection)");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  Display* display = XOpenDisplay(name.c_str());
  if (!display) return Napi::String::New(env, "cannot open display " + name);
  Window window = XCreateSimpleWindow(display, DefaultRootWindow(display), 0, 0, 1, 1, 0, 0, 0);
  Atom selection = XInternAtom(display, info[1].As<Napi::String>().Utf8Value().c_str(), False);
  XSetSelectionOwner(display, selection, window, CurrentTime);
  XSync(display, False);
  if (XGetSelectionOwner(display, selection) != window) {
    XCloseDisplay(display);
    return Napi::String::New(env, "could not take the selection");
  }
  windows[nextWindow] = {display, window};
  return Napi::Number::New(env, nextWindow++);
}

// copyArea(display, sx, sy, width, height, dx, dy): the server moves pixels itself, as a scroll does.
Napi::Value CopyArea(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int v[6];
  for (int i = 0; i < 6; i++) v[i] = info[i + 1].As<Napi::Number>().Int32Value();
  Display* display = XOpenDisplay(name.c_str());
  if (!display) return Napi::String::New(env, "cannot open display " + name);
  Window root = RootWindow(display, DefaultScreen(display));
  XGCValues values{};
  values.subwindow_mode = IncludeInferiors;
  GC gc = XCreateGC(display, root, GCSubwindowMode, &values);
  XCopyArea(display, root, root, gc, v[0], v[1], v[2], v[3], v[4], v[5]);
  XSync(display, False);
  XFreeGC(display, gc);
  XCloseDisplay(display);
  return Napi::String::New(env, "");
}

// canConnect(display) -> true once the server accepts clients (its socket appears slightly earlier)
Napi::Value CanConnect(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) return Napi::Boolean::New(info.Env(), false);
  Display* display = XOpenDisplay(info[0].As<Napi::String>().Utf8Value().c_str());
  if (display) XCloseDisplay(display);
  return Napi::Boolean::New(info.Env(), display != nullptr);
}

// warpPointer(display, x, y) -> "" or an error message: moves the pointer as a user's mouse would.
Napi::Value WarpPointer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString()) return Napi::String::New(env, "warpPointer(display, x, y)");
  Display* display = XOpenDisplay(info[0].As<Napi::String>().Utf8Value().c_str());
  if (!display) return Napi::String::New(env, "cannot open display");
  XWarpPointer(display, None, RootWindow(display, DefaultScreen(display)), 0, 0, 0, 0, info[1].As<Napi::Number>().Int32Value(),
               info[2].As<Napi::Number>().Int32Value());
  XSync(display, False);
  XCloseDisplay(display);
  return Napi::String::New(env, "");
}

// setRootCursor(display, fontShape[, secondShape]) -> id (> 0) or an error message: the root window
// shows the cursor font's glyph `fontShape` (animated with `secondShape` when given) (XC_watch = 150, XC_xterm = 152, ...). The cursor stays allocated on
// a connection of its own until closeWindow(id), as an application keeps the cursors it shows: Xvfb
// answers no XFixes image to older clients for a cursor whose creator freed it (as xsetroot does).
Napi::Value SetRootCursor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) return Napi::String::New(env, "setRootCursor(display, fontShape[, secondShape])");
  Display* display = XOpenDisplay(info[0].As<Napi::String>().Utf8Value().c_str());
  if (!display) return Napi::String::New(env, "cannot open display");
  Window root = RootWindow(display, DefaultScreen(display));
  Cursor cursor = XCreateFontCursor(display, info[1].As<Napi::Number>().Uint32Value());
  if (info.Length() >= 3 && info[2].IsNumber()) {
    // An animated cursor alternating between the two glyphs every 50 ms, as a busy cursor animates.
    XAnimCursor frames[2] = {{cursor, 50}, {XCreateFontCursor(display, info[2].As<Napi::Number>().Uint32Value()), 50}};
    cursor = XRenderCreateAnimCursor(display, 2, frames);
  }
  XDefineCursor(display, root, cursor);
  XSync(display, False);
  windows[nextWindow] = {display, None};
  return Napi::Number::New(env, nextWindow++);
}

// cursorImage(display) -> { serial, width, height, xhot, yhot, x, y, argb: Buffer (LE u32 each) } or an
// error message: what XFixes says the screen shows, to compare the recorded cursor with.
Napi::Value CursorImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return Napi::String::New(env, "cursorImage(display)");
  Display* display = XOpenDisplay(info[0].As<Napi::String>().Utf8Value().c_str());
  if (!display) return Napi::String::New(env, "cannot open display");
  XFixesCursorImage* image = XFixesGetCursorImage(display);
  if (!image) {
    XCloseDisplay(display);
    return Napi::String::New(env, "XFixesGetCursorImage failed");
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("serial", double(image->cursor_serial));
  out.Set("width", image->width);
  out.Set("height", image->height);
  out.Set("xhot", image->xhot);
  out.Set("yhot", image->yhot);
  out.Set("x", image->x);
  out.Set("y", image->y);
  auto argb = Napi::Buffer<uint8_t>::New(env, size_t(image->width) * image->height * 4);
  for (size_t i = 0; i < size_t(image->width) * image->height; i++) {
    const uint32_t p = uint32_t(image->pixels[i]);
    for (int b = 0; b < 4; b++) argb.Data()[i * 4 + b] = (p >> (8 * b)) & 0xff;
  }
  out.Set("argb", argb);
  XFree(image);
  XCloseDisplay(display);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("canConnect", Napi::Function::New(env, CanConnect));
  exports.Set("v4l2Scenario", Napi::Function::New(env, lucid::V4l2Scenario));
  exports.Set("encodeJpeg", Napi::Function::New(env, lucid::EncodeJpeg));
  exports.Set("putImage", Napi::Function::New(env, PutImage));
  exports.Set("openWindow", Napi::Function::New(env, OpenWindow));
  exports.Set("closeWindow", Napi::Function::New(env, CloseWindow));
  exports.Set("copyArea", Napi::Function::New(env, CopyArea));
  exports.Set("ownSelection", Napi::Function::New(env, OwnSelection));
  exports.Set("warpPointer", Napi::Function::New(env, WarpPointer));
  exports.Set("setRootCursor", Napi::Function::New(env, SetRootCursor));
  exports.Set("cursorImage", Napi::Function::New(env, CursorImage));
  return exports;
}

}  // namespace

NODE_API_MODULE(lucid_test_support, Init)
