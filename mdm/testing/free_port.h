// A TCP port on 127.0.0.1 that is free right now, for tests that start
// servers (a c10d TCPStore, say). Another process may take it before the
// caller binds it; tests accept that small race.
#ifndef MDM_TESTING_FREE_PORT_H_
#define MDM_TESTING_FREE_PORT_H_

namespace mdm::testing {

// Binds port 0 on the loopback interface, reads the port the kernel chose
// and releases it. CHECK-fails when no socket can be bound.
int FreePort();

}  // namespace mdm::testing

#endif  // MDM_TESTING_FREE_PORT_H_
