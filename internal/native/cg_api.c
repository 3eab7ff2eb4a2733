//go:build cgo && (linux || darwin)

/* cg_api.c: small entry points for Go (native_unix.go); install time only. */
#include "cg_recorder.h"

int cg_api_scan_images(void) {
    cg_writer_enter();
    cg_recorder *rec = cg_recorder_get();
    int n = rec != NULL ? cg_images_scan(rec) : -1;
    cg_writer_leave();
    return n;
}

void cg_api_set_layers(uint32_t bits) {
    cg_writer_enter();
    cg_recorder_set_layers(bits);
    cg_writer_leave();
}
