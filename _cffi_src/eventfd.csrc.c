#if !__has_include(<sys/eventfd.h>)
#error "butter needs <sys/eventfd.h> (glibc or musl development headers: apt-get install libc6-dev)"
#endif
#include <sys/eventfd.h>

