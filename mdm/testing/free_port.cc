#include "mdm/testing/free_port.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mdm/util/logging.h"

namespace mdm::testing {

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  PCHECK(fd >= 0) << "socket";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  PCHECK(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
      << "bind 127.0.0.1:0";
  socklen_t len = sizeof(addr);
  PCHECK(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      << "getsockname";
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace mdm::testing
