//go:build cgo && (linux || darwin)

/* layout.c: the C layout of cg_recorder.h as a table, compared field by
 * field with flightrec.Layout() by internal/native's TestCLayoutMatchesGo.
 * Names are flightrec's. */
#include "cg_recorder.h"

#define F(st, go, c) {#st "." go, offsetof(cg_##st, c), sizeof(((cg_##st *)0)->c)}

static const struct {
    const char *name;
    size_t off, size;
} fields[] = {
    {"header.size", 0, sizeof(cg_header)},
    F(header, "magic", magic),
    F(header, "version", version),
    F(header, "header_size", header_size),
    F(header, "record_size", record_size),
    F(header, "record_count", record_count),
    F(header, "record_offset", record_offset),
    F(header, "image_size", image_size),
    F(header, "image_capacity", image_capacity),
    F(header, "image_offset", image_offset),
    F(header, "arch", arch),
    F(header, "os", os),
    F(header, "pid", pid),
    F(header, "start_time", start_time),
    F(header, "sentinel_pc", sentinel_pc),
    F(header, "go_text_start", go_text_start),
    F(header, "go_text_end", go_text_end),
    F(header, "next_seq", next_seq),
    F(header, "image_count", image_count),
    F(header, "layers", layers),
    F(header, "max_registers", max_registers),
    F(header, "max_frames", max_frames),
    F(header, "sentinel_name", sentinel_name),
    F(header, "file_size", file_size),

    {"image.size", 0, sizeof(cg_image)},
    F(image, "state", state),
    F(image, "type", type),
    F(image, "build_id_len", build_id_len),
    F(image, "flags", flags),
    F(image, "base", base),
    F(image, "size_bytes", size),
    F(image, "vmaddr", vmaddr),
    F(image, "build_id", build_id),
    F(image, "path", path),

    {"record.size", 0, sizeof(cg_record)},
    F(record, "state", state),
    F(record, "flags", flags),
    F(record, "seq", seq),
    F(record, "time", time_ns),
    F(record, "thread_id", thread_id),
    F(record, "signal", signo),
    F(record, "code", code),
    F(record, "addr", addr),
    F(record, "pc", pc),
    F(record, "sp", sp),
    F(record, "mach_exception", mach_exception),
    F(record, "nregs", nregs),
    F(record, "mach_code", mach_code),
    F(record, "mach_subcode", mach_subcode),
    F(record, "nframes", nframes),
    F(record, "handler_ns", handler_ns),
    F(record, "regs", regs),
    F(record, "frames", frames),
    F(record, "sender_pid", sender_pid),
};

int cg_layout_field(int i, const char **name, uint64_t *off, uint64_t *size) {
    if (i < 0 || (size_t)i >= sizeof fields / sizeof fields[0])
        return 0;
    *name = fields[i].name;
    *off = fields[i].off;
    *size = fields[i].size;
    return 1;
}
