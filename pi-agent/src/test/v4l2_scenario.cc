// Test helper: runs V4l2Capture open → grab → close against a FakeV4l2Io described from JS.
#include <napi.h>

#include <cstdio>

#include <jpeglib.h>

#include "../v4l2_capture.h"
#include "fake_v4l2_io.h"

namespace lucid {

static uint32_t Fourcc(const std::string& s) {
  return s.size() == 4 ? v4l2_fourcc(s[0], s[1], s[2], s[3]) : 0;
}

// v4l2Scenario({ device: {...}, width, height }) -> { openError, format, grabError, bgrx, log }
Napi::Value V4l2Scenario(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object spec = info[0].As<Napi::Object>();
  Napi::Object d = spec.Get("device").As<Napi::Object>();
  FakeDevice device;
  auto num = [&](const char* key, uint32_t fallback) {
    return d.Has(key) ? d.Get(key).As<Napi::Number>().Uint32Value() : fallback;
  };
  if (d.Has("exists")) device.exists = d.Get("exists").As<Napi::Boolean>().Value();
  if (d.Has("busy")) device.busy = d.Get("busy").As<Napi::Boolean>().Value();
  device.caps = num("caps", device.caps);
  device.maxWidth = num("maxWidth", device.maxWidth);
  device.maxHeight = num("maxHeight", device.maxHeight);
  device.grantBuffers = num("grantBuffers", device.grantBuffers);
  device.linePadding = num("linePadding", device.linePadding);
  if (d.Has("formats")) {
    device.formats.clear();
    Napi::Array formats = d.Get("formats").As<Napi::Array>();
    for (uint32_t i = 0; i < formats.Length(); i++) device.formats.push_back(Fourcc(formats.Get(i).As<Napi::String>().Utf8Value()));
  }
  if (d.Has("yuyv")) {
    auto buffer = d.Get("yuyv").As<Napi::Buffer<uint8_t>>();
    device.yuyv.assign(buffer.Data(), buffer.Data() + buffer.Length());
  }

  FakeV4l2Io io(device);
  Napi::Object out = Napi::Object::New(env);
  {
    V4l2Capture capture(io);
    std::string err = capture.Open("/dev/video9", spec.Get("width").As<Napi::Number>().Int32Value(),
                                   spec.Get("height").As<Napi::Number>().Int32Value());
    out.Set("openError", err);
    if (err.empty()) {
      Napi::Object format = Napi::Object::New(env);
      format.Set("fourcc", FourccName(capture.format().fourcc));
      format.Set("width", capture.format().width);
      format.Set("height", capture.format().height);
      out.Set("format", format);
      std::string grabError = capture.Grab(100);
      out.Set("grabError", grabError);
      if (grabError.empty()) {
        FrameView frame = capture.Current();
        out.Set("bgrx", Napi::Buffer<uint8_t>::Copy(env, frame.data, frame.stride * frame.height));
      }
    }
  }  // the capture closes here, so the log shows the teardown
  Napi::Array log = Napi::Array::New(env, io.log.size());
  for (size_t i = 0; i < io.log.size(); i++) log.Set(uint32_t(i), io.log[i]);
  out.Set("log", log);
  return out;
}

}  // namespace lucid

namespace lucid {

// encodeJpeg(bgrx, width, height, quality) -> Buffer: a real JPEG for the simulated MJPEG camera.
Napi::Value EncodeJpeg(const Napi::CallbackInfo& info) {
  auto pixels = info[0].As<Napi::Buffer<uint8_t>>();
  const int width = info[1].As<Napi::Number>().Int32Value(), height = info[2].As<Napi::Number>().Int32Value();
  jpeg_compress_struct cinfo;
  jpeg_error_mgr error;
  cinfo.err = jpeg_std_error(&error);
  jpeg_create_compress(&cinfo);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &out, &size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_EXT_BGRX;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, info[3].As<Napi::Number>().Int32Value(), TRUE);
  for (int i = 0; i < cinfo.num_components; i++) cinfo.comp_info[i].h_samp_factor = cinfo.comp_info[i].v_samp_factor = 1;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = pixels.Data() + size_t(cinfo.next_scanline) * width * 4;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  Napi::Buffer<uint8_t> result = Napi::Buffer<uint8_t>::Copy(info.Env(), out, size);
  free(out);
  return result;
}

}  // namespace lucid
