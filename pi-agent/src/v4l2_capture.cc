#include "v4l2_capture.h"

#include <linux/videodev2.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>

namespace lucid {

std::string FourccName(uint32_t f) {
  return std::string{char(f & 0xff), char((f >> 8) & 0xff), char((f >> 16) & 0xff), char((f >> 24) & 0xff)};
}

static inline uint8_t Clamp(int v) { return uint8_t(v < 0 ? 0 : (v > 255 ? 255 : v)); }

void YuyvToBgrx(const uint8_t* yuyv, int width, int height, uint32_t bytesPerLine, uint8_t* bgrx) {
  for (int y = 0; y < height; y++) {
    const uint8_t* s = yuyv + size_t(y) * bytesPerLine;
    uint8_t* d = bgrx + size_t(y) * width * 4;
    for (int x = 0; x < width; x += 2, s += 4) {
      const int u = s[1] - 128, v = s[3] - 128;
      for (int k = 0; k < 2 && x + k < width; k++, d += 4) {
        const int c = 298 * (s[k * 2] - 16);
        d[0] = Clamp((c + 516 * u + 128) >> 8);
        d[1] = Clamp((c - 100 * u - 208 * v + 128) >> 8);
        d[2] = Clamp((c + 409 * v + 128) >> 8);
        d[3] = 0;
      }
    }
  }
}

namespace {

struct JpegError {
  jpeg_error_mgr manager;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void OnJpegError(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, error->message);
  longjmp(error->jump, 1);
}

// Plain C style on purpose: libjpeg reports errors by longjmp, which must not skip C++ destructors.
const char* DecodeJpeg(const uint8_t* data, size_t size, int width, int height, uint8_t* bgrx, JpegError& error) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = OnJpegError;
  error.message[0] = 0;
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return error.message;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, size);
  jpeg_read_header(&cinfo, TRUE);  // libjpeg-turbo supplies the default Huffman tables UVC cameras omit
  cinfo.out_color_space = JCS_EXT_BGRX;
  jpeg_start_decompress(&cinfo);
  if (int(cinfo.output_width) != width || int(cinfo.output_height) != height) {
    snprintf(error.message, sizeof error.message, "frame is %ux%u, not the negotiated %dx%d", cinfo.output_width,
             cinfo.output_height, width, height);
    jpeg_destroy_decompress(&cinfo);
    return error.message;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = bgrx + size_t(cinfo.output_scanline) * width * 4;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return nullptr;
}

}  // namespace

std::string DecodeMjpeg(const uint8_t* data, size_t size, int width, int height, uint8_t* bgrx) {
  JpegError error;
  const char* failure = DecodeJpeg(data, size, width, height, bgrx, error);
  return failure ? std::string("bad MJPEG frame: ") + failure : "";
}

std::string V4l2Capture::Fail(const std::string& what, int err) {
  std::string reason = std::strerror(-err);
  if (err == -ENOENT || err == -ENODEV || err == -ENXIO) reason = "no such device (is the camera plugged in and its driver loaded?)";
  if (err == -EBUSY) reason = "device is busy: another program is streaming from it";
  if (err == -EACCES || err == -EPERM) reason = "permission denied (add the agent's user to the video group)";
  Close();
  return path_ + ": " + what + ": " + reason;
}

std::string V4l2Capture::Open(const std::string& path, int width, int height) {
  path_ = path;
  int fd = io_.Open(path.c_str());
  if (fd < 0) return Fail("cannot open", fd);
  fd_ = fd;

  v4l2_capability cap{};
  if (int r = io_.Ioctl(fd_, VIDIOC_QUERYCAP, &cap); r < 0) return Fail("VIDIOC_QUERYCAP failed (not a V4L2 device?)", r);
  uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
  if (!(caps & V4L2_CAP_VIDEO_CAPTURE)) {
    Close();
    return path + ": not a video capture device (it may be the metadata node; try the other /dev/video*)";
  }
  if (!(caps & V4L2_CAP_STREAMING)) {
    Close();
    return path + ": the driver does not support streaming I/O, which the agent needs";
  }

  // Prefer YUYV (exact conversion), else MJPEG.
  bool hasYuyv = false, hasMjpeg = false;
  std::string offered;
  for (uint32_t i = 0;; i++) {
    v4l2_fmtdesc desc{};
    desc.index = i;
    desc.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (io_.Ioctl(fd_, VIDIOC_ENUM_FMT, &desc) < 0) break;
    hasYuyv |= desc.pixelformat == V4L2_PIX_FMT_YUYV;
    hasMjpeg |= desc.pixelformat == V4L2_PIX_FMT_MJPEG;
    offered += (offered.empty() ? "" : ", ") + FourccName(desc.pixelformat);
  }
  if (!hasYuyv && !hasMjpeg) {
    Close();
    return path + ": offers neither YUYV nor MJPEG (it offers: " + (offered.empty() ? "nothing" : offered) + ")";
  }

  v4l2_format fmt{};
  fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  fmt.fmt.pix.width = width;
  fmt.fmt.pix.height = height;
  fmt.fmt.pix.pixelformat = hasYuyv ? V4L2_PIX_FMT_YUYV : V4L2_PIX_FMT_MJPEG;
  fmt.fmt.pix.field = V4L2_FIELD_NONE;
  if (int r = io_.Ioctl(fd_, VIDIOC_S_FMT, &fmt); r < 0) return Fail("VIDIOC_S_FMT failed", r);
  // The driver answers with what it will really deliver; it may differ from what we asked.
  format_ = V4l2Format{fmt.fmt.pix.pixelformat, int(fmt.fmt.pix.width), int(fmt.fmt.pix.height), fmt.fmt.pix.bytesperline,
                       fmt.fmt.pix.sizeimage};
  if (format_.width <= 0 || format_.height <= 0 || format_.width > 0xffff || format_.height > 0xffff) {
    Close();
    return path + ": the driver chose an unusable size " + std::to_string(format_.width) + "x" + std::to_string(format_.height);
  }
  if (format_.fourcc == V4L2_PIX_FMT_YUYV && format_.bytesPerLine < uint32_t(format_.width) * 2) {
    format_.bytesPerLine = format_.width * 2;
  }

  v4l2_requestbuffers req{};
  req.count = kBuffers;
  req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  req.memory = V4L2_MEMORY_MMAP;
  if (int r = io_.Ioctl(fd_, VIDIOC_REQBUFS, &req); r < 0) return Fail("VIDIOC_REQBUFS (MMAP) failed", r);
  if (req.count < 2) {
    Close();
    return path + ": the driver granted " + std::to_string(req.count) + " buffer(s); streaming needs at least 2";
  }
  for (uint32_t i = 0; i < req.count; i++) {
    v4l2_buffer buf{};
    buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    buf.memory = V4L2_MEMORY_MMAP;
    buf.index = i;
    if (int r = io_.Ioctl(fd_, VIDIOC_QUERYBUF, &buf); r < 0) return Fail("VIDIOC_QUERYBUF failed", r);
    void* address = io_.Map(fd_, buf.length, buf.m.offset);
    if (!address) return Fail("mmap of a capture buffer failed", -ENOMEM);
    buffers_.push_back({address, buf.length});
    if (int r = io_.Ioctl(fd_, VIDIOC_QBUF, &buf); r < 0) return Fail("VIDIOC_QBUF failed", r);
  }
  int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  if (int r = io_.Ioctl(fd_, VIDIOC_STREAMON, &type); r < 0) return Fail("VIDIOC_STREAMON failed", r);
  streaming_ = true;
  frame_.assign(size_t(format_.width) * format_.height * 4, 0);
  return "";
}

std::string V4l2Capture::Grab(int timeoutMs) {
  if (fd_ < 0) return "the V4L2 capture is closed";
  int ready = io_.WaitReadable(fd_, timeoutMs);
  if (ready < 0) return Fail("waiting for a frame failed", ready);
  if (ready == 0) return path_ + ": no frame within " + std::to_string(timeoutMs) + " ms (is the source sending video?)";
  v4l2_buffer buf{};
  buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  buf.memory = V4L2_MEMORY_MMAP;
  if (int r = io_.Ioctl(fd_, VIDIOC_DQBUF, &buf); r < 0) return Fail("VIDIOC_DQBUF failed", r);
  std::string err;
  if (buf.index >= buffers_.size()) {
    err = path_ + ": the driver returned buffer " + std::to_string(buf.index) + " which was never mapped";
  } else if (format_.fourcc == V4L2_PIX_FMT_YUYV) {
    const size_t need = size_t(format_.bytesPerLine) * (format_.height - 1) + size_t(format_.width) * 2;
    if (buf.bytesused < need || buffers_[buf.index].length < need) {
      err = path_ + ": short YUYV frame (" + std::to_string(buf.bytesused) + " of " + std::to_string(need) + " bytes)";
    } else {
      YuyvToBgrx(static_cast<const uint8_t*>(buffers_[buf.index].address), format_.width, format_.height,
                 format_.bytesPerLine, frame_.data());
    }
  } else {
    const size_t used = std::min<size_t>(buf.bytesused, buffers_[buf.index].length);
    err = DecodeMjpeg(static_cast<const uint8_t*>(buffers_[buf.index].address), used, format_.width, format_.height,
                      frame_.data());
    if (!err.empty()) err = path_ + ": " + err;
  }
  if (int r = io_.Ioctl(fd_, VIDIOC_QBUF, &buf); r < 0 && err.empty()) return Fail("VIDIOC_QBUF failed", r);
  return err;
}

void V4l2Capture::Close() {
  if (fd_ < 0) return;
  if (streaming_) {
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    io_.Ioctl(fd_, VIDIOC_STREAMOFF, &type);
    streaming_ = false;
  }
  for (auto& b : buffers_) io_.Unmap(b.address, b.length);
  buffers_.clear();
  v4l2_requestbuffers req{};
  req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  req.memory = V4L2_MEMORY_MMAP;
  io_.Ioctl(fd_, VIDIOC_REQBUFS, &req);  // count 0 frees the driver's buffers
  io_.Close(fd_);
  fd_ = -1;
}

}  // namespace lucid
