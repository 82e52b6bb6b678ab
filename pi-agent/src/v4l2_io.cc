#include "v4l2_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace lucid {

int SystemV4l2Io::Open(const char* path) {
  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

int SystemV4l2Io::Ioctl(int fd, unsigned long request, void* arg) {
  int r;
  do r = ioctl(fd, request, arg);
  while (r == -1 && errno == EINTR);
  return r == -1 ? -errno : 0;
}

void* SystemV4l2Io::Map(int fd, size_t length, off_t offset) {
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
  return p == MAP_FAILED ? nullptr : p;
}

void SystemV4l2Io::Unmap(void* address, size_t length) { munmap(address, length); }

int SystemV4l2Io::WaitReadable(int fd, int timeoutMs) {
  pollfd p{fd, POLLIN, 0};
  int r;
  do r = poll(&p, 1, timeoutMs);
  while (r == -1 && errno == EINTR);
  return r < 0 ? -errno : (r > 0 ? 1 : 0);
}

void SystemV4l2Io::Close(int fd) { close(fd); }

}  // namespace lucid
