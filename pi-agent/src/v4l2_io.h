// The system calls V4L2 capture makes, behind an interface so the ioctl logic can be unit-tested
// against a simulated device (src/test/fake_v4l2_io.h) without a kernel driver.
#pragma once
#include <sys/types.h>

#include <cstddef>

namespace lucid {

class V4l2Io {
 public:
  virtual ~V4l2Io() = default;
  virtual int Open(const char* path) = 0;                        // fd, or -errno
  virtual int Ioctl(int fd, unsigned long request, void* arg) = 0;  // 0, or -errno
  virtual void* Map(int fd, size_t length, off_t offset) = 0;    // nullptr on failure
  virtual void Unmap(void* address, size_t length) = 0;
  virtual int WaitReadable(int fd, int timeoutMs) = 0;           // 1 ready, 0 timeout, -errno
  virtual void Close(int fd) = 0;
};

// The real thing: open/ioctl/mmap/poll on a /dev/video* node.
class SystemV4l2Io : public V4l2Io {
 public:
  int Open(const char* path) override;
  int Ioctl(int fd, unsigned long request, void* arg) override;
  void* Map(int fd, size_t length, off_t offset) override;
  void Unmap(void* address, size_t length) override;
  int WaitReadable(int fd, int timeoutMs) override;
  void Close(int fd) override;
};

}  // namespace lucid
