// Node-API surface of the cursor (x11_cursor.h): openCursor(display) -> { ok, cursor } whose
// poll() is synchronous and never waits for X events (one XQueryPointer round trip, plus one
// XFixesGetCursorImage when the shape changed). Errors come back as values, never as throws.
#include <napi.h>

#include <cstring>
#include <memory>

#include "x11_cursor.h"

namespace lucid {
namespace {

Napi::Object Failure(Napi::Env env, const std::string& message) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("ok", false);
  out.Set("error", message);
  return out;
}

class Cursor : public Napi::ObjectWrap<Cursor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Cursor",
                       {InstanceMethod("info", &Cursor::Info), InstanceMethod("poll", &Cursor::Poll),
                        InstanceMethod("close", &Cursor::Close)});
  }
  explicit Cursor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Cursor>(info) {}
  X11Cursor& source() { return source_; }

 private:
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("available", source_.available());
    out.Set("note", source_.note());
    return out;
  }

  // poll() -> { ok: true, moved, x, y, shape? } | { ok: false, error }
  Napi::Value Poll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool shapeChanged = false, moved = false;
    int x = 0, y = 0;
    CursorImage shape;
    std::string err = source_.Poll(shapeChanged, shape, moved, x, y);
    if (!err.empty()) return Failure(env, err);
    Napi::Object out = Napi::Object::New(env);
    out.Set("ok", true);
    out.Set("moved", moved);
    out.Set("x", x);
    out.Set("y", y);
    if (shapeChanged) {
      Napi::Object s = Napi::Object::New(env);
      s.Set("serial", shape.serial);
      s.Set("width", shape.width);
      s.Set("height", shape.height);
      s.Set("xhot", shape.xhot);
      s.Set("yhot", shape.yhot);
      // Little-endian u32 per pixel: the byte layout the recording format stores.
      auto argb = Napi::Buffer<uint8_t>::New(env, shape.argb.size() * 4);
      for (size_t i = 0; i < shape.argb.size(); i++) {
        const uint32_t p = shape.argb[i];
        uint8_t* o = argb.Data() + i * 4;
        o[0] = p & 0xff;
        o[1] = (p >> 8) & 0xff;
        o[2] = (p >> 16) & 0xff;
        o[3] = p >> 24;
      }
      s.Set("argb", argb);
      out.Set("shape", s);
    }
    return out;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    source_.Close();
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("ok", true);
    return out;
  }

  X11Cursor source_;
};

Napi::FunctionReference* cursorConstructor = nullptr;

// openCursor(display) -> { ok: true, cursor } | { ok: false, error }
Napi::Value OpenCursor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return Failure(env, "openCursor(display: string)");
  Napi::Object object = cursorConstructor->New({});
  std::string err = Cursor::Unwrap(object)->source().Open(info[0].As<Napi::String>().Utf8Value());
  if (!err.empty()) return Failure(env, err);
  Napi::Object out = Napi::Object::New(env);
  out.Set("ok", true);
  out.Set("cursor", object);
  return out;
}

}  // namespace

void InitCursor(Napi::Env env, Napi::Object exports) {
  cursorConstructor = new Napi::FunctionReference(Napi::Persistent(Cursor::Define(env)));
  exports.Set("openCursor", Napi::Function::New(env, OpenCursor));
}

}  // namespace lucid
