// v4l2_probe: runs the agent's V4L2 capture code (v4l2_capture.cc + v4l2_io.cc, the same sources
// the addon builds) against a real kernel driver and prints what happened as JSON lines
// ("PROBE {...}") for test/node/agent-v4l2-vivid.test.ts to check. Built statically so it runs
// from a busybox initramfs inside qemu, where the `vivid` virtual device is /dev/video0.
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "../v4l2_capture.h"

using lucid::FourccName;
using lucid::SystemV4l2Io;
using lucid::V4l2Capture;

namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out + "\"";
}

void Emit(const std::string& step, const std::string& fields) {
  std::printf("PROBE {\"step\":%s%s%s}\n", Quote(step).c_str(), fields.empty() ? "" : ",", fields.c_str());
  std::fflush(stdout);
}

std::string FormatFields(const V4l2Capture& c) {
  const auto& f = c.format();
  return "\"fourcc\":" + Quote(FourccName(f.fourcc)) + ",\"width\":" + std::to_string(f.width) +
         ",\"height\":" + std::to_string(f.height);
}

// The formats the device offers, straight from VIDIOC_ENUM_FMT.
std::string OfferedFormats(const char* path) {
  int fd = open(path, O_RDWR);
  if (fd < 0) return "[]";
  std::string list = "[";
  for (uint32_t i = 0;; i++) {
    v4l2_fmtdesc desc{};
    desc.index = i;
    desc.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (ioctl(fd, VIDIOC_ENUM_FMT, &desc) < 0) break;
    list += (i ? "," : "") + Quote(FourccName(desc.pixelformat));
  }
  close(fd);
  return list + "]";
}

// Opens at width x height, grabs `frames` frames and reports the format, errors and, for the last
// frame, BGRX samples across the middle row (one at the centre of each eighth: vivid's colour bars).
void OpenAndGrab(const char* step, const char* path, int width, int height, int frames) {
  SystemV4l2Io io;
  V4l2Capture capture(io);
  std::string err = capture.Open(path, width, height);
  if (!err.empty()) return Emit(step, "\"openError\":" + Quote(err));
  std::string grabError;
  int grabbed = 0;
  for (; grabbed < frames; grabbed++) {
    grabError = capture.Grab(10000);
    if (!grabError.empty()) break;
  }
  std::string samples = "[";
  if (grabError.empty()) {
    lucid::FrameView frame = capture.Current();
    const int y = frame.height / 2;
    for (int bar = 0; bar < 8; bar++) {
      const int x = (2 * bar + 1) * frame.width / 16;
      const uint8_t* p = frame.data + size_t(y) * frame.stride + size_t(x) * 4;
      samples += std::string(bar ? "," : "") + "[" + std::to_string(p[2]) + "," + std::to_string(p[1]) + "," +
                 std::to_string(p[0]) + "]";
    }
  }
  samples += "]";
  Emit(step, FormatFields(capture) + ",\"openError\":\"\",\"grabbed\":" + std::to_string(grabbed) +
                 ",\"grabError\":" + Quote(grabError) + ",\"rgbMiddleRow\":" + samples);
}

// A second opener while the first is streaming: the driver refuses it with EBUSY.
void Busy(const char* path) {
  SystemV4l2Io io1, io2;
  V4l2Capture first(io1), second(io2);
  std::string firstError = first.Open(path, 640, 480);
  std::string secondError = firstError.empty() ? second.Open(path, 640, 480) : "";
  first.Close();
  if (secondError.empty()) second.Close();
  // Once the first has stopped streaming and freed its buffers, the device is free again.
  std::string afterError = second.Open(path, 640, 480);
  Emit("busy", "\"firstError\":" + Quote(firstError) + ",\"secondError\":" + Quote(secondError) +
                   ",\"afterReleaseError\":" + Quote(afterError));
}

void OpenOnly(const char* step, const char* path) {
  SystemV4l2Io io;
  V4l2Capture capture(io);
  Emit(step, "\"openError\":" + Quote(capture.Open(path, 640, 480)));
}

}  // namespace

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "/dev/video0";
  Emit("formats", "\"offered\":" + OfferedFormats(path));
  OpenAndGrab("yuyv-1280x720", path, 1280, 720, 3);
  OpenAndGrab("yuyv-1920x1080", path, 1920, 1080, 2);
  OpenAndGrab("nearest-size", path, 1000, 700, 1);
  Busy(path);
  OpenOnly("missing", "/dev/video7");
  OpenOnly("not-v4l2", "/dev/null");
  Emit("done", "");
  return 0;
}
