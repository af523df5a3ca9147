// ENet's public API (Debian libenet-dev 1.3.17).
#include <enet/enet.h>
