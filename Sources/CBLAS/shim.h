// OpenBLAS: cblas_* and openblas_set_num_threads / openblas_get_num_threads.
#include <cblas.h>
#include <stddef.h>

// LAPACK, bundled in Debian's libopenblas (Fortran calling convention: arguments by pointer,
// column-major arrays, hidden character-length arguments at the end). Symmetric
// eigendecomposition by divide and conquer.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_length, size_t uplo_length);

// OpenBLAS's thread pool (pthread build): stops the pool's threads. A later multithreaded call
// starts them again. Declared by OpenBLAS's common.h, not by cblas.h.
int blas_thread_shutdown_(void);
