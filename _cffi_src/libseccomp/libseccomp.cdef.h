/* libseccomp (>= 2.5), for cffi's ABI mode: butter._seccomp_lowlevel is
   generated from this file at build time and dlopen()s the system's
   libseccomp.so.2 at import.  No header is read, so every type, layout and
   value below is written out by hand.  All of it is libseccomp's stable ABI
   (soname libseccomp.so.2), copied from its <seccomp.h> (2.5.x; unchanged
   in 2.6); tests/test_seccomp.py compares each one with the real header
   when libseccomp-dev is installed.

   What is *not* here: SCMP_ACT_* and SCMP_ARCH_* are the kernel's
   SECCOMP_RET_* and AUDIT_ARCH_* numbers, which butter._lowlevel takes from
   the kernel headers (_cffi_src/seccomp.*); SCMP_VER_* are the loaded
   library's, from seccomp_version(). */

typedef void *scmp_filter_ctx;
typedef uint64_t scmp_datum_t;

/* seccomp.h: "enum scmp_filter_attr" (_SCMP_FLTATR_MAX, which grows with
   each release, is left out). */
enum scmp_filter_attr {
    SCMP_FLTATR_ACT_DEFAULT = 1,
    SCMP_FLTATR_ACT_BADARCH = 2,
    SCMP_FLTATR_CTL_NNP = 3,
    SCMP_FLTATR_CTL_TSYNC = 4,
    SCMP_FLTATR_API_TSKIP = 5,
    SCMP_FLTATR_CTL_LOG = 6,
    SCMP_FLTATR_CTL_SSB = 7,
    SCMP_FLTATR_CTL_OPTIMIZE = 8,
    SCMP_FLTATR_API_SYSRAWRC = 9
};

/* seccomp.h: "enum scmp_compare". */
enum scmp_compare {
    SCMP_CMP_NE = 1,
    SCMP_CMP_LT = 2,
    SCMP_CMP_LE = 3,
    SCMP_CMP_EQ = 4,
    SCMP_CMP_GE = 5,
    SCMP_CMP_GT = 6,
    SCMP_CMP_MASKED_EQ = 7
};

/* seccomp.h: "struct scmp_arg_cmp" (24 bytes: no padding on any ABI
   libseccomp supports) and "struct scmp_version". */
struct scmp_arg_cmp {
    unsigned int arg;
    enum scmp_compare op;
    scmp_datum_t datum_a;
    scmp_datum_t datum_b;
};
struct scmp_version { unsigned int major; unsigned int minor; unsigned int micro; };

/* seccomp.h: what the resolvers return for an unknown name. */
#define __NR_SCMP_ERROR -1
/* seccomp.h: "the native architecture token" (resolved by libseccomp). */
#define SCMP_ARCH_NATIVE 0

const struct scmp_version *seccomp_version(void);
unsigned int seccomp_api_get(void);
int seccomp_api_set(unsigned int level);
scmp_filter_ctx seccomp_init(uint32_t def_action);
int seccomp_reset(scmp_filter_ctx ctx, uint32_t def_action);
void seccomp_release(scmp_filter_ctx ctx);
int seccomp_merge(scmp_filter_ctx ctx_dst, scmp_filter_ctx ctx_src);
uint32_t seccomp_arch_resolve_name(const char *arch_name);
uint32_t seccomp_arch_native(void);
int seccomp_arch_exist(const scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_load(const scmp_filter_ctx ctx);
int seccomp_attr_get(const scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t *value);
int seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value);
char *seccomp_syscall_resolve_num_arch(uint32_t arch_token, int num);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_syscall_resolve_name_rewrite(uint32_t arch_token, const char *name);
int seccomp_syscall_priority(scmp_filter_ctx ctx, int syscall, uint8_t priority);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                           unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int seccomp_rule_add_exact_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                                 unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int seccomp_notify_fd(const scmp_filter_ctx ctx);
int seccomp_export_pfc(const scmp_filter_ctx ctx, int fd);
int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);

/* The C library's, found through libseccomp's own dependencies: frees what
   seccomp_syscall_resolve_num_arch() returns (its documented contract). */
void free(void *);
