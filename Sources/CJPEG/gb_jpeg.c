#include "gb_jpeg.h"
#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

// Most scans a file may have. A progressive file normally has about 10; libjpeg-turbo's own
// djpeg offers -maxscans against files with thousands of tiny scans, which cost a full pass each.
#define GB_JPEG_MAX_SCANS 1000

typedef struct {
    struct jpeg_error_mgr pub;  // first, so a j_common_ptr's err can be cast back to this
    jmp_buf jump;
    char *message;
} gb_error_mgr;

typedef struct {
    struct jpeg_progress_mgr pub;
    j_decompress_ptr cinfo;
} progress_t;

static void fail(j_common_ptr cinfo) {
    gb_error_mgr *e = (gb_error_mgr *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(e->message, 160, "%s", text);
    longjmp(e->jump, 1);
}

// Warnings (msg_level −1) that mean pixels were lost or invented: libjpeg would carry on and fill
// the rest with gray; we refuse the file instead, as Pillow does for a truncated one. Benign
// warnings (extraneous bytes before a marker, an unknown JFIF revision) are ignored.
static void on_message(j_common_ptr cinfo, int level) {
    if (level != -1) return;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF: case JWRN_HIT_MARKER: case JWRN_HUFF_BAD_CODE: case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC: case JWRN_NOT_SEQUENTIAL: case JWRN_BOGUS_PROGRESSION:
        fail(cinfo);
    default:
        break;
    }
}

static void on_progress(j_common_ptr common) {
    progress_t *p = (progress_t *)common->progress;
    if (p->cinfo->input_scan_number > GB_JPEG_MAX_SCANS) {
        gb_error_mgr *e = (gb_error_mgr *)common->err;
        snprintf(e->message, 160, "more than %d scans", GB_JPEG_MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

// Pillow's MULDIV255: round(a·b/255) for a, b in 0…255.
static inline int muldiv255(int a, int b) { int t = a * b + 128; return ((t >> 8) + t) >> 8; }

int gb_jpeg_decode(const uint8_t *bytes, size_t length, uint64_t max_pixels, gb_jpeg_image *out) {
    memset(out, 0, sizeof *out);
    if (length < 3 || bytes[0] != 0xFF || bytes[1] != 0xD8 || bytes[2] != 0xFF) {
        snprintf(out->message, 160, "not a JPEG file (bad signature)");
        return 1;
    }
    if (length > (size_t)0xFFFFFFFFu) { snprintf(out->message, 160, "file is too large"); return 1; }
    struct jpeg_decompress_struct cinfo;
    gb_error_mgr err;
    progress_t progress;
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile row = NULL;
    uint8_t *volatile exif = NULL;
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = fail;
    err.pub.emit_message = on_message;
    err.message = out->message;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels); free(row); free(exif);
        out->pixels = NULL; out->exif = NULL; out->exif_length = 0;
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    progress.pub.progress_monitor = on_progress;
    progress.cinfo = &cinfo;
    cinfo.progress = &progress.pub;
    jpeg_mem_src(&cinfo, bytes, (unsigned long)length);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);

    uint32_t w = cinfo.image_width, h = cinfo.image_height;
    out->width = w; out->height = h;
    out->source_components = cinfo.num_components;
    out->source_color_space = cinfo.jpeg_color_space;
    out->progressive = cinfo.progressive_mode ? 1 : 0;
    out->adobe = cinfo.saw_Adobe_marker ? 1 : 0;
    if ((uint64_t)w * (uint64_t)h > max_pixels) {
        snprintf(out->message, 160, "image is %ux%u, over the limit of %llu pixels", w, h, (unsigned long long)max_pixels);
        longjmp(err.jump, 1);
    }
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            exif = (uint8_t *)malloc(m->data_length - 6);
            if (!exif) { snprintf(out->message, 160, "out of memory"); longjmp(err.jump, 1); }
            memcpy(exif, m->data + 6, m->data_length - 6);
            out->exif_length = m->data_length - 6;
            break;
        }
    }

    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr: case JCS_RGB: cinfo.out_color_space = JCS_RGB; break;
    case JCS_CMYK: case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; cmyk = 1; break;
    default:
        snprintf(out->message, 160, "unsupported JPEG colour space (%d components)", cinfo.num_components);
        longjmp(err.jump, 1);
    }
    jpeg_start_decompress(&cinfo);
    int in_channels = cinfo.output_components;
    int channels = cmyk ? 3 : in_channels;
    if ((cmyk && in_channels != 4) || (!cmyk && in_channels != 1 && in_channels != 3)) {
        snprintf(out->message, 160, "unsupported JPEG layout (%d output components)", in_channels);
        longjmp(err.jump, 1);
    }
    pixels = (uint8_t *)malloc((size_t)w * h * (size_t)channels + 1);
    row = (uint8_t *)malloc((size_t)w * (size_t)in_channels + 1);
    if (!pixels || !row) { snprintf(out->message, 160, "out of memory for a %ux%u image", w, h); longjmp(err.jump, 1); }
    while (cinfo.output_scanline < h) {
        size_t y = cinfo.output_scanline;
        JSAMPROW rows[1] = { cmyk ? row : pixels + y * w * (size_t)channels };
        if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) { snprintf(out->message, 160, "file is truncated"); longjmp(err.jump, 1); }
        if (cmyk) {
            uint8_t *dst = pixels + y * w * 3;
            for (uint32_t x = 0; x < w; x++) {
                const uint8_t *s = row + (size_t)x * 4;
                int c = s[0], m = s[1], yy = s[2], k = s[3];
                if (cinfo.saw_Adobe_marker) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                int nk = 255 - k;
                dst[x * 3 + 0] = (uint8_t)(nk - muldiv255(c, nk));
                dst[x * 3 + 1] = (uint8_t)(nk - muldiv255(m, nk));
                dst[x * 3 + 2] = (uint8_t)(nk - muldiv255(yy, nk));
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    out->channels = channels;
    out->pixels = pixels;
    out->exif = exif;
    return 0;
}

void gb_jpeg_free(gb_jpeg_image *image) {
    if (!image) return;
    free(image->pixels); image->pixels = NULL;
    free(image->exif); image->exif = NULL; image->exif_length = 0;
}
