/* Probes for `python -m butter`: each returns an fd (>= 0) that the caller
   closes, another non-negative value, or -errno. */
int butter_probe_inotify(void);
int butter_probe_fanotify(int fid_mode);
int butter_probe_io_uring(void);
int butter_probe_pidfd(void);
int butter_probe_landlock_abi(void);
int butter_probe_memfd(void);
int butter_probe_seccomp(void);
int butter_probe_aio(void);
