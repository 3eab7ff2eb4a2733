//go:build cgo && (linux || darwin)

/*
 * cfi_code.c: code for the CFI unwind tests (internal/native/cfi_test.go),
 * never run: its call frame information and the instructions before its
 * return addresses are what the walk reads. The shapes are those of the
 * c-abort-gothread crash on x86-64 glibc:
 *
 *   cg_testcfi_leaf   like __pthread_kill_implementation: no frame pointer,
 *                     saves rbp and uses it for data, 0x48 bytes of locals.
 *   cg_testcfi_mid    like abort: saves rbp as a callee-saved register,
 *                     0xa0 bytes of locals (where stale return addresses
 *                     sit), calls the leaf.
 *   cg_testcfi_outer  like cgc_abort: frame pointer, calls mid.
 *   cg_testcfi_nocfi  frame pointer and no CFI at all (like Go code), calls
 *                     outer.
 *   cg_testcfi_base   calls nocfi.
 *   cg_testcfi_stale  two calls: the return addresses after them are code
 *                     after a call, as stale ones on a stack are.
 *   cg_testcfi_start  the outermost frame: return address undefined.
 *
 * And, with no CFI and no frame pointer, for the stack scan:
 *
 *   cg_testscan_leaf  the faulting function.
 *   cg_testscan_mid   calls the leaf.
 *   cg_testscan_plt   calls getpid through the PLT: the return address after
 *                     it is code after a call, into another image (libc).
 */
#include <stdint.h>
#include <unistd.h>

#if defined(__linux__) && defined(__x86_64__)

__asm__(".text\n"
        ".p2align 4\n"
        ".type cg_testcfi_leaf, @function\n"
        "cg_testcfi_leaf:\n"
        ".cfi_startproc\n"
        "  pushq %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "  pushq %rbx\n"
        ".cfi_def_cfa_offset 24\n"
        ".cfi_offset %rbx, -24\n"
        "  subq $0x48, %rsp\n"
        ".cfi_def_cfa_offset 0x60\n"
        "  movq %rdi, %rbp\n"
        "cg_testcfi_leaf_pc:\n"
        "  syscall\n"
        "  addq $0x48, %rsp\n"
        ".cfi_def_cfa_offset 24\n"
        "  popq %rbx\n"
        ".cfi_def_cfa_offset 16\n"
        "  popq %rbp\n"
        ".cfi_def_cfa_offset 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size cg_testcfi_leaf, .-cg_testcfi_leaf\n"

        ".p2align 4\n"
        ".type cg_testcfi_mid, @function\n"
        "cg_testcfi_mid:\n"
        ".cfi_startproc\n"
        "  pushq %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "  subq $0xa0, %rsp\n"
        ".cfi_def_cfa_offset 0xb0\n"
        "  call cg_testcfi_leaf\n"
        "cg_testcfi_mid_ret:\n"
        "  addq $0xa0, %rsp\n"
        ".cfi_def_cfa_offset 16\n"
        "  popq %rbp\n"
        ".cfi_def_cfa_offset 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size cg_testcfi_mid, .-cg_testcfi_mid\n"

        ".p2align 4\n"
        ".type cg_testcfi_outer, @function\n"
        "cg_testcfi_outer:\n"
        ".cfi_startproc\n"
        "  pushq %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "  movq %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "  call cg_testcfi_mid\n"
        "cg_testcfi_outer_ret:\n"
        "  popq %rbp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size cg_testcfi_outer, .-cg_testcfi_outer\n"

        ".p2align 4\n"
        ".type cg_testcfi_nocfi, @function\n"
        "cg_testcfi_nocfi:\n"
        "  pushq %rbp\n"
        "  movq %rsp, %rbp\n"
        "  call cg_testcfi_outer\n"
        "cg_testcfi_nocfi_ret:\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size cg_testcfi_nocfi, .-cg_testcfi_nocfi\n"

        ".p2align 4\n"
        ".type cg_testcfi_base, @function\n"
        "cg_testcfi_base:\n"
        "  pushq %rbp\n"
        "  movq %rsp, %rbp\n"
        "  call cg_testcfi_nocfi\n"
        "cg_testcfi_base_ret:\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size cg_testcfi_base, .-cg_testcfi_base\n"

        ".p2align 4\n"
        ".type cg_testcfi_stale, @function\n"
        "cg_testcfi_stale:\n"
        ".cfi_startproc\n"
        "  subq $8, %rsp\n"
        ".cfi_def_cfa_offset 16\n"
        "  call cg_testcfi_base\n"
        "cg_testcfi_stale_ret1:\n"
        "  call cg_testcfi_base\n"
        "cg_testcfi_stale_ret2:\n"
        "  addq $8, %rsp\n"
        ".cfi_def_cfa_offset 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size cg_testcfi_stale, .-cg_testcfi_stale\n"

        ".p2align 4\n"
        ".type cg_testcfi_start, @function\n"
        "cg_testcfi_start:\n"
        ".cfi_startproc\n"
        ".cfi_undefined %rip\n"
        "  xorl %ebp, %ebp\n"
        "cg_testcfi_start_pc:\n"
        "  call cg_testcfi_base\n"
        "  hlt\n"
        ".cfi_endproc\n"
        ".size cg_testcfi_start, .-cg_testcfi_start\n"

        ".p2align 4\n"
        ".type cg_testscan_leaf, @function\n"
        "cg_testscan_leaf:\n"
        "  subq $0x38, %rsp\n"
        "cg_testscan_leaf_pc:\n"
        "  syscall\n"
        "  addq $0x38, %rsp\n"
        "  ret\n"
        ".size cg_testscan_leaf, .-cg_testscan_leaf\n"

        ".p2align 4\n"
        ".type cg_testscan_mid, @function\n"
        "cg_testscan_mid:\n"
        "  subq $0x28, %rsp\n"
        "  call cg_testscan_leaf\n"
        "cg_testscan_mid_ret:\n"
        "  addq $0x28, %rsp\n"
        "  ret\n"
        ".size cg_testscan_mid, .-cg_testscan_mid\n"

        ".p2align 4\n"
        ".type cg_testscan_plt, @function\n"
        "cg_testscan_plt:\n"
        "  subq $8, %rsp\n"
        "  call getpid@PLT\n"
        "cg_testscan_plt_ret:\n"
        "  addq $8, %rsp\n"
        "  ret\n"
        ".size cg_testscan_plt, .-cg_testscan_plt\n");

extern char cg_testcfi_leaf[], cg_testcfi_leaf_pc[], cg_testcfi_mid_ret[], cg_testcfi_outer_ret[],
    cg_testcfi_nocfi_ret[], cg_testcfi_base_ret[], cg_testcfi_stale_ret1[],
    cg_testcfi_stale_ret2[], cg_testcfi_start_pc[], cg_testscan_leaf_pc[], cg_testscan_mid_ret[],
    cg_testscan_plt_ret[];

/* The addresses the tests lay a stack out with, in this order; returns how
 * many (0: no test code on this platform). */
int cg_test_cfi_addrs(uint64_t *out, int max) {
    const char *a[] = {cg_testcfi_leaf,       cg_testcfi_leaf_pc,    cg_testcfi_mid_ret,
                       cg_testcfi_outer_ret,  cg_testcfi_nocfi_ret,  cg_testcfi_base_ret,
                       cg_testcfi_stale_ret1, cg_testcfi_stale_ret2, cg_testcfi_start_pc,
                       cg_testscan_leaf_pc,   cg_testscan_mid_ret,   cg_testscan_plt_ret};
    int n = (int)(sizeof a / sizeof a[0]);
    if (max < n)
        return 0;
    /* Binds getpid's PLT slot (lazy binding) as a call that ran would
     * have. */
    (void)getpid();
    for (int i = 0; i < n; i++)
        out[i] = (uint64_t)(uintptr_t)a[i];
    return n;
}

#else

int cg_test_cfi_addrs(uint64_t *out, int max) {
    (void)out;
    (void)max;
    return 0;
}

#endif
