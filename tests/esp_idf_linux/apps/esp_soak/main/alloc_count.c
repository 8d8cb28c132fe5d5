// Counts heap allocations of the whole process (linux target: glibc's allocator underneath) and
// the high-water mark of bytes in use, by interposing malloc & co. over glibc's. While
// soak_fail_allocations_from(n) is set (n > 0), every allocation of n bytes or more fails: an
// out-of-memory heap for one large object.
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void __libc_free(void*);
extern void* __libc_memalign(size_t, size_t);

static atomic_ulong allocations;
static atomic_long in_use;
static atomic_long high_water;
static atomic_size_t fail_from;  // 0: off

static int refused(size_t n) {
  size_t limit = atomic_load(&fail_from);
  return limit != 0 && n >= limit;
}

static void track(void* p, long sign) {
  if (p == NULL) return;
  long now = atomic_fetch_add(&in_use, sign * (long)malloc_usable_size(p)) + sign * (long)malloc_usable_size(p);
  long hw = atomic_load(&high_water);
  while (now > hw && !atomic_compare_exchange_weak(&high_water, &hw, now)) {}
}

void* malloc(size_t n) {
  if (refused(n)) return NULL;
  void* p = __libc_malloc(n);
  atomic_fetch_add(&allocations, 1);
  track(p, 1);
  return p;
}
void* calloc(size_t n, size_t m) {
  if (m != 0 && refused(n * m)) return NULL;
  void* p = __libc_calloc(n, m);
  atomic_fetch_add(&allocations, 1);
  track(p, 1);
  return p;
}
void* realloc(void* old, size_t n) {
  track(old, -1);
  void* p = __libc_realloc(old, n);
  atomic_fetch_add(&allocations, 1);
  track(p != NULL ? p : (n == 0 ? NULL : old), 1);
  return p;
}
void free(void* p) {
  track(p, -1);
  __libc_free(p);
}
void* memalign(size_t a, size_t n) {
  if (refused(n)) return NULL;
  void* p = __libc_memalign(a, n);
  atomic_fetch_add(&allocations, 1);
  track(p, 1);
  return p;
}
int posix_memalign(void** out, size_t a, size_t n) {
  if (refused(n)) return 12;  // ENOMEM
  void* p = __libc_memalign(a, n);
  if (p == NULL) return 12;  // ENOMEM
  atomic_fetch_add(&allocations, 1);
  track(p, 1);
  *out = p;
  return 0;
}
void* aligned_alloc(size_t a, size_t n) { return memalign(a, n); }

unsigned long soak_allocations(void) { return atomic_load(&allocations); }
long soak_heap_in_use(void) { return atomic_load(&in_use); }
long soak_heap_high_water(void) { return atomic_load(&high_water); }
void soak_reset_high_water(void) { atomic_store(&high_water, atomic_load(&in_use)); }
void soak_fail_allocations_from(size_t n) { atomic_store(&fail_from, n); }
