// A simulated V4L2 device for unit tests of the capture's ioctl logic: it answers like a driver
// (adjusts sizes, grants fewer buffers, reports busy) and logs every call.
#pragma once
#include <linux/videodev2.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "../v4l2_io.h"

namespace lucid {

struct FakeDevice {
  bool exists = true;
  bool busy = false;
  uint32_t caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
  std::vector<uint32_t> formats{V4L2_PIX_FMT_YUYV};
  uint32_t maxWidth = 640, maxHeight = 480;
  uint32_t grantBuffers = 4;
  uint32_t linePadding = 0;  // bytes a row beyond width*2, as some drivers use
  std::vector<uint8_t> yuyv;  // the picture every DQBUF delivers
};

class FakeV4l2Io : public V4l2Io {
 public:
  explicit FakeV4l2Io(FakeDevice device) : dev_(std::move(device)) {}
  std::vector<std::string> log;

  int Open(const char*) override {
    log.push_back("open");
    return dev_.exists ? 7 : -ENOENT;
  }

  int Ioctl(int, unsigned long request, void* arg) override {
    switch (request) {
      case VIDIOC_QUERYCAP: {
        log.push_back("QUERYCAP");
        auto* cap = static_cast<v4l2_capability*>(arg);
        cap->capabilities = dev_.caps | V4L2_CAP_DEVICE_CAPS;
        cap->device_caps = dev_.caps;
        return 0;
      }
      case VIDIOC_ENUM_FMT: {
        auto* desc = static_cast<v4l2_fmtdesc*>(arg);
        if (desc->index >= dev_.formats.size()) return -EINVAL;
        desc->pixelformat = dev_.formats[desc->index];
        return 0;
      }
      case VIDIOC_S_FMT: {
        log.push_back("S_FMT");
        if (dev_.busy) return -EBUSY;
        auto& pix = static_cast<v4l2_format*>(arg)->fmt.pix;
        if (std::find(dev_.formats.begin(), dev_.formats.end(), pix.pixelformat) == dev_.formats.end()) pix.pixelformat = dev_.formats[0];
        pix.width = std::min(pix.width, dev_.maxWidth);
        pix.height = std::min(pix.height, dev_.maxHeight);
        pix.bytesperline = pix.pixelformat == V4L2_PIX_FMT_YUYV ? pix.width * 2 + dev_.linePadding : 0;
        pix.sizeimage = pix.pixelformat == V4L2_PIX_FMT_YUYV ? pix.bytesperline * pix.height : pix.width * pix.height;
        size_ = pix.sizeimage;
        return 0;
      }
      case VIDIOC_REQBUFS: {
        auto* req = static_cast<v4l2_requestbuffers*>(arg);
        log.push_back("REQBUFS " + std::to_string(req->count));
        if (req->memory != V4L2_MEMORY_MMAP) return -EINVAL;
        req->count = std::min(req->count, dev_.grantBuffers);
        return 0;
      }
      case VIDIOC_QUERYBUF: {
        auto* buf = static_cast<v4l2_buffer*>(arg);
        buf->length = size_;
        buf->m.offset = buf->index * 0x100000;
        return 0;
      }
      case VIDIOC_QBUF:
        queued_.push_back(static_cast<v4l2_buffer*>(arg)->index);
        return 0;
      case VIDIOC_DQBUF: {
        log.push_back("DQBUF");
        if (queued_.empty()) return -EAGAIN;
        auto* buf = static_cast<v4l2_buffer*>(arg);
        buf->index = queued_.front();
        queued_.pop_front();
        auto& memory = maps_[buf->index * 0x100000];
        std::memcpy(memory.data(), dev_.yuyv.data(), std::min(memory.size(), dev_.yuyv.size()));
        buf->bytesused = std::min<uint32_t>(size_, dev_.yuyv.size());
        return 0;
      }
      case VIDIOC_STREAMON:
        log.push_back("STREAMON");
        streaming_ = true;
        return 0;
      case VIDIOC_STREAMOFF:
        log.push_back("STREAMOFF");
        streaming_ = false;
        return 0;
    }
    return -ENOTTY;
  }

  void* Map(int, size_t length, off_t offset) override {
    log.push_back("mmap");
    auto& memory = maps_[offset];
    memory.assign(length, 0);
    return memory.data();
  }
  void Unmap(void*, size_t) override { log.push_back("munmap"); }
  int WaitReadable(int, int) override { return streaming_ && !queued_.empty() ? 1 : 0; }
  void Close(int) override { log.push_back("close"); }

 private:
  FakeDevice dev_;
  uint32_t size_ = 0;
  bool streaming_ = false;
  std::deque<uint32_t> queued_;
  std::map<off_t, std::vector<uint8_t>> maps_;
};

}  // namespace lucid
