// Node-API surface: one Capture object per X display; each next() runs on the libuv pool and
// resolves with a value that is either a record body or an error message (never a throw).
#include <napi.h>

#include <chrono>
#include <cstring>
#include <memory>

#include "tile_differ.h"
#include "v4l2_source.h"
#include "x11_capture.h"
#include "x11_input.h"

namespace lucid {
void InitCursor(Napi::Env env, Napi::Object exports);  // cursor_addon.cc
}

namespace {

Napi::Object ErrorValue(Napi::Env env, const std::string& message) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("ok", false);
  out.Set("error", message);
  return out;
}

class Capture : public Napi::ObjectWrap<Capture> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Capture",
                       {InstanceMethod("info", &Capture::Info), InstanceMethod("next", &Capture::Next),
                        InstanceMethod("close", &Capture::Close)});
  }

  explicit Capture(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Capture>(info) {}

  void Attach(std::unique_ptr<lucid::FrameSource> source) { source_ = std::move(source); }
  lucid::FrameSource& source() { return *source_; }
  bool busy = false;
  bool closed = false;

  // The base of the next delta: the last frame that was recorded, BGRX with stride width*4.
  std::vector<uint8_t> previous;

 private:
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("width", source_->width());
    out.Set("height", source_->height());
    out.Set("shm", source_->usesShm());
    out.Set("damage", source_->usesDamage());
    out.Set("note", source_->note());
    out.Set("pixelFormat", source_->pixelFormat());
    return out;
  }

  Napi::Value Next(const Napi::CallbackInfo& info);

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (busy) return ErrorValue(info.Env(), "cannot close while a capture is running; await next() first");
    source_->Close();
    closed = true;
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("ok", true);
    return out;
  }

  std::unique_ptr<lucid::FrameSource> source_;
};

// Grabs a frame and builds its record body off the JS thread.
class NextWorker : public Napi::AsyncWorker {
 public:
  NextWorker(Napi::Env env, Capture* owner, Napi::Object self, bool keyframe, int tileSize)
      : Napi::AsyncWorker(env), owner_(owner), deferred_(Napi::Promise::Deferred::New(env)), keyframe_(keyframe),
        tileSize_(tileSize) {
    self_ = Napi::Persistent(self);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    lucid::FrameSource& cap = owner_->source();
    bool resized = false;
    lucid::TileMask grabbed;
    error_ = cap.Grab(resized, tileSize_, grabbed);
    if (!error_.empty()) return;
    grabbedPixels_ = cap.grabbedPixels();
    epochMs_ = double(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
    lucid::FrameView frame = cap.Current();
    body_ = std::make_unique<std::vector<uint8_t>>();
    const bool havePrevious = owner_->previous.size() == size_t(frame.width) * frame.height * 4;
    if (keyframe_ || resized || !havePrevious) {
      type_ = "keyframe";
      lucid::KeyframeBody(frame, *body_);
      changed_ = 0;
      grabbed.SetAll(frame.width, frame.height, tileSize_);
      lucid::CopyTiles(frame, grabbed, owner_->previous);
      return;
    }
    // Each tile grabbed is compared with the recorded frame, and `previous` follows every change
    // recorded, so tiles grabbed now but unchanged need no carrying over.
    changed_ = lucid::DeltaBody(frame, owner_->previous.data(), tileSize_, grabbed, *body_);
    type_ = changed_ ? "delta" : "none";
    if (changed_) lucid::CopyTiles(frame, grabbed, owner_->previous);
  }

  void OnOK() override {
    Napi::Env env = Env();
    owner_->busy = false;
    if (!error_.empty()) {
      deferred_.Resolve(ErrorValue(env, error_));
      return;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("ok", true);
    out.Set("type", type_);
    out.Set("epochMs", epochMs_);
    out.Set("width", owner_->source().width());
    out.Set("height", owner_->source().height());
    out.Set("changedTiles", changed_);
    out.Set("grabbedPixels", grabbedPixels_);
    if (type_ != "none") {
      auto* body = body_.release();
      out.Set("body", Napi::Buffer<uint8_t>::New(env, body->data(), body->size(),
                                                  [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, body));
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override {
    owner_->busy = false;
    deferred_.Resolve(ErrorValue(Env(), e.Message()));
  }

 private:
  Capture* owner_;
  Napi::ObjectReference self_;  // keeps the Capture alive while the work runs
  Napi::Promise::Deferred deferred_;
  bool keyframe_;
  int tileSize_;
  std::string error_;
  std::string type_;
  double epochMs_ = 0;
  uint32_t changed_ = 0;
  double grabbedPixels_ = 0;
  std::unique_ptr<std::vector<uint8_t>> body_;
};

Napi::Value Capture::Next(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto reject = [&](const std::string& message) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(ErrorValue(env, message));
    return d.Promise();
  };
  if (closed) return reject("the capture is closed");
  if (busy) return reject("a capture is already running on this display; await it first");
  if (info.Length() < 2 || !info[0].IsBoolean() || !info[1].IsNumber()) return reject("next(keyframe: boolean, tileSize: number)");
  int tileSize = info[1].As<Napi::Number>().Int32Value();
  if (tileSize < 8 || tileSize > 255) return reject("tileSize must be 8..255");
  if (!info[0].As<Napi::Boolean>().Value() && source_->Idle()) {
    // Nothing drawn since the last grab: answer at once, without a grab or a thread hop.
    Napi::Object out = Napi::Object::New(env);
    out.Set("ok", true);
    out.Set("type", "none");
    out.Set("epochMs", double(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count()));
    out.Set("width", source_->width());
    out.Set("height", source_->height());
    out.Set("changedTiles", 0);
    out.Set("grabbedPixels", 0);
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(out);
    return d.Promise();
  }
  busy = true;
  auto* worker = new NextWorker(env, this, info.This().As<Napi::Object>(), info[0].As<Napi::Boolean>().Value(), tileSize);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::FunctionReference* captureConstructor = nullptr;

Napi::Value Wrap(Napi::Env env, std::unique_ptr<lucid::FrameSource> source) {
  Napi::Object object = captureConstructor->New({});
  Capture::Unwrap(object)->Attach(std::move(source));
  Napi::Object out = Napi::Object::New(env);
  out.Set("ok", true);
  out.Set("capture", object);
  return out;
}

// openX11(display, allowShm, allowDamage) -> { ok: true, capture } | { ok: false, error }
Napi::Value OpenX11(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsBoolean() || !info[2].IsBoolean()) {
    return ErrorValue(env, "openX11(display: string, allowShm: boolean, allowDamage: boolean)");
  }
  auto source = std::make_unique<lucid::X11Capture>();
  std::string err = source->Open(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Boolean>().Value(),
                                 info[2].As<Napi::Boolean>().Value());
  if (!err.empty()) return ErrorValue(env, err);
  return Wrap(env, std::move(source));
}

// openV4l2(path, width, height) -> { ok: true, capture } | { ok: false, error }
Napi::Value OpenV4l2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber()) {
    return ErrorValue(env, "openV4l2(path: string, width: number, height: number)");
  }
  auto source = std::make_unique<lucid::V4l2Source>();
  std::string err = source->Open(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value(),
                                 info[2].As<Napi::Number>().Int32Value());
  if (!err.empty()) return ErrorValue(env, err);
  return Wrap(env, std::move(source));
}

// Interaction on an X display (pi-agent/src/x11_input.h): drain() is synchronous and never waits on
// another client, so the recorder calls it once a tick on the JS thread.
class Input : public Napi::ObjectWrap<Input> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Input", {InstanceMethod("drain", &Input::Drain), InstanceMethod("close", &Input::Close)});
  }
  explicit Input(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Input>(info) {}
  void Attach(std::unique_ptr<lucid::X11Input> input) { input_ = std::move(input); }

 private:
  Napi::Value Drain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!input_) return ErrorValue(env, "the interaction capture is closed");
    std::vector<lucid::InputEvent> events;
    std::string err = input_->Drain(events);
    if (!err.empty()) return ErrorValue(env, err);
    Napi::Array list = Napi::Array::New(env, events.size());
    for (size_t i = 0; i < events.size(); i++) {
      const lucid::InputEvent& e = events[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("epochMs", e.epochMs);
      switch (e.kind) {
        case lucid::InputEvent::Kind::Key:
          o.Set("type", "key");
          if (!e.text.empty()) o.Set("text", e.text);
          break;
        case lucid::InputEvent::Kind::Click:
          o.Set("type", "click");
          o.Set("button", e.button);
          o.Set("x", e.x);
          o.Set("y", e.y);
          break;
        case lucid::InputEvent::Kind::Focus:
          o.Set("type", "focus");
          o.Set("title", e.title);
          o.Set("class", e.klass);
          break;
        case lucid::InputEvent::Kind::Clipboard:
          o.Set("type", "clipboard");
          o.Set("selection", e.selection);
          o.Set("bytes", e.bytes);
          if (e.hasText) o.Set("text", e.clipText);
          break;
      }
      list.Set(uint32_t(i), o);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("ok", true);
    out.Set("events", list);
    return out;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    input_.reset();
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("ok", true);
    return out;
  }

  std::unique_ptr<lucid::X11Input> input_;
};

Napi::FunctionReference* inputConstructor = nullptr;

// openInput(display, full) -> { ok: true, input } | { ok: false, error }
Napi::Value OpenInput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean()) return ErrorValue(env, "openInput(display: string, full: boolean)");
  auto input = std::make_unique<lucid::X11Input>();
  std::string err = input->Open(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Boolean>().Value());
  if (!err.empty()) return ErrorValue(env, err);
  Napi::Object object = inputConstructor->New({});
  Input::Unwrap(object)->Attach(std::move(input));
  Napi::Object out = Napi::Object::New(env);
  out.Set("ok", true);
  out.Set("input", object);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  XInitThreads();
  captureConstructor = new Napi::FunctionReference(Napi::Persistent(Capture::Define(env)));
  exports.Set("openX11", Napi::Function::New(env, OpenX11));
  exports.Set("openV4l2", Napi::Function::New(env, OpenV4l2));
  inputConstructor = new Napi::FunctionReference(Napi::Persistent(Input::Define(env)));
  exports.Set("openInput", Napi::Function::New(env, OpenInput));
  lucid::InitCursor(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(lucid_capture, Init)
