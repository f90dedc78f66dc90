/* Fork safety through the C ABI, as Python's multiprocessing does it: a
 * threaded cblas_sgemm in the parent, then fork; the child (and a grandchild)
 * must finish a threaded-size cblas_sgemm with the parent's result. A child
 * that hangs is killed by its alarm and the test fails. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "gemmkit_blas.h"

#define N 300 /* past the small path: the blocked driver shares it between threads */

static float a[N * N], b[N * N], want[N * N], got[N * N];

static void product(float *c) {
    memset(c, 0, sizeof got);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
}

/* Forks; the child computes, checks, and forks once more if `depth` > 0.
 * Returns 0 when the child exited 0 within its alarm. */
static int in_child(int depth) {
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        alarm(120); /* generous for emulators; the bug is "forever" */
        product(got);
        int ok = memcmp(got, want, sizeof got) == 0;
        if (ok && depth > 0) ok = in_child(depth - 1) == 0;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return 1;
    if (WIFSIGNALED(status)) {
        printf("FAIL: child killed by signal %d (%s)\n", WTERMSIG(status),
               WTERMSIG(status) == SIGALRM ? "hung" : "crashed");
        return 1;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(void) {
    /* Three threads whatever the machine, so the parent's pool is running. */
    setenv("RAYON_NUM_THREADS", "3", 1);
    for (int i = 0; i < N * N; i++) {
        a[i] = (float)((i * 7) % 13) - 6.0f;
        b[i] = (float)((i * 5) % 11) - 5.0f;
    }
    product(want); /* threads started in the parent */
    if (gemmkit_get_num_threads() < 2) {
        printf("FAIL: expected a threaded pool, got %d thread(s)\n", gemmkit_get_num_threads());
        return 1;
    }
    if (in_child(1) != 0) {
        printf("FAIL: forked child did not compute the threaded sgemm\n");
        return 1;
    }
    product(got);
    if (memcmp(got, want, sizeof got) != 0) {
        printf("FAIL: parent result changed after the fork\n");
        return 1;
    }
    printf("fork test: child and grandchild computed threaded sgemm (%d threads)\n", gemmkit_get_num_threads());
    return 0;
}
