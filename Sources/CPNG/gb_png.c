#include "gb_png.h"
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

typedef struct { const uint8_t *bytes; size_t length, position; char *message; } reader_t;

static void on_error(png_structp png, png_const_charp msg) {
    reader_t *r = (reader_t *)png_get_error_ptr(png);
    if (r && r->message) snprintf(r->message, 160, "%s", msg);
    png_longjmp(png, 1);
}
static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void read_bytes(png_structp png, png_bytep dst, png_size_t n) {
    reader_t *r = (reader_t *)png_get_io_ptr(png);
    if (n > r->length - r->position) png_error(png, "file is truncated");
    memcpy(dst, r->bytes + r->position, n);
    r->position += n;
}

// Whether every chunk up to IEND fits in the file (length, type, data and CRC). libpng allocates
// a chunk's declared length before reading its data (zTXt, iTXt, iCCP, ...), so without this a
// 69-byte file declaring a 1.8 GB chunk costs a 1.8 GB allocation (found by fuzzing;
// Tests/Fixtures/fuzz/png). What follows IEND, or a file ending between chunks, is left to libpng.
static int chunks_fit(const uint8_t *bytes, size_t length) {
    size_t offset = 8;
    while (length - offset >= 8) {
        const uint8_t *p = bytes + offset;
        size_t declared = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | (size_t)p[3];
        if (declared + 4 > length - offset - 8) return 0;
        if (memcmp(p + 4, "IEND", 4) == 0) return 1;
        offset += 12 + declared;
    }
    return 1;
}

static int start(const uint8_t *bytes, size_t length, gb_png_image *out, reader_t *r, png_structp *png, png_infop *info) {
    memset(out, 0, sizeof *out);
    if (length < 8 || png_sig_cmp(bytes, 0, 8) != 0) { snprintf(out->message, 160, "not a PNG file (bad signature)"); return 1; }
    if (!chunks_fit(bytes, length)) { snprintf(out->message, 160, "file is truncated (a chunk runs past the end of the file)"); return 1; }
    r->bytes = bytes; r->length = length; r->position = 0; r->message = out->message;
    *png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, on_error, on_warning);
    if (!*png) { snprintf(out->message, 160, "out of memory"); return 1; }
    *info = png_create_info_struct(*png);
    if (!*info) { png_destroy_read_struct(png, NULL, NULL); snprintf(out->message, 160, "out of memory"); return 1; }
    png_set_read_fn(*png, r, read_bytes);
    // Our own pixel budget is checked below; lift libpng's 1M-pixel-per-row default limits.
    png_set_user_limits(*png, 0x7fffffff, 0x7fffffff);
    return 0;
}

int gb_png_read_header(const uint8_t *bytes, size_t length, gb_png_image *out) {
    reader_t r; png_structp png; png_infop info;
    if (start(bytes, length, out, &r, &png, &info)) return 1;
    if (setjmp(png_jmpbuf(png))) { png_destroy_read_struct(&png, &info, NULL); return 1; }
    png_read_info(png, info);
    out->width = png_get_image_width(png, info);
    out->height = png_get_image_height(png, info);
    out->source_bit_depth = png_get_bit_depth(png, info);
    out->source_color_type = png_get_color_type(png, info);
    out->interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    out->channels = png_get_channels(png, info);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

/// Replaces `*pixels` (one palette index per pixel) by RGB, or RGBA when the file has tRNS
/// (entries past the tRNS list are opaque), as png_set_palette_to_rgb + png_set_tRNS_to_alpha
/// would. Returns 1, with a message, for an index past the palette.
static int expand_palette(png_structp png, png_infop info, uint8_t **pixels, size_t count, int *channels, char *message) {
    png_colorp entries = NULL; int size = 0;
    png_get_PLTE(png, info, &entries, &size);
    png_bytep alpha = NULL; int alphas = 0;
    int has_alpha = png_get_tRNS(png, info, &alpha, &alphas, NULL) != 0 && alpha != NULL;
    const uint8_t *index = *pixels;
    for (size_t i = 0; i < count; i++) {
        if (index[i] >= size) { snprintf(message, 160, "palette index %d is past the %d-entry palette", index[i], size); return 1; }
    }
    int c = has_alpha ? 4 : 3;
    uint8_t *expanded = (uint8_t *)malloc(count * (size_t)c + 1);
    if (!expanded) { snprintf(message, 160, "out of memory for a %zu-pixel image", count); return 1; }
    for (size_t i = 0; i < count; i++) {
        png_color e = entries[index[i]];
        uint8_t *p = expanded + i * (size_t)c;
        p[0] = e.red; p[1] = e.green; p[2] = e.blue;
        if (has_alpha) p[3] = index[i] < alphas ? alpha[index[i]] : 255;
    }
    free(*pixels);
    *pixels = expanded;
    *channels = c;
    return 0;
}

int gb_png_decode(const uint8_t *bytes, size_t length, uint64_t max_pixels, gb_png_image *out) {
    reader_t r; png_structp png; png_infop info;
    if (start(bytes, length, out, &r, &png, &info)) return 1;
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels); free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        out->pixels = NULL;
        return 1;
    }
    png_read_info(png, info);
    uint32_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    out->width = w; out->height = h;
    out->source_bit_depth = png_get_bit_depth(png, info);
    out->source_color_type = png_get_color_type(png, info);
    out->interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    if ((uint64_t)w * (uint64_t)h > max_pixels) {
        snprintf(out->message, 160, "image is %ux%u, over the limit of %llu pixels", w, h, (unsigned long long)max_pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    int color = out->source_color_type;
    // Palette images are read as one index byte per pixel and expanded below, not by libpng:
    // libpng only warns about an index past the palette and paints it black; we refuse it.
    int palette = color == PNG_COLOR_TYPE_PALETTE;
    if (palette) png_set_packing(png);
    if (color == PNG_COLOR_TYPE_GRAY && out->source_bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (!palette && png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (out->source_bit_depth == 16) png_set_scale_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (size_t)w * (size_t)channels) { snprintf(out->message, 160, "unsupported PNG layout"); png_longjmp(png, 1); }
    pixels = (uint8_t *)malloc(rowbytes * (size_t)h + 1);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * ((size_t)h + 1));
    if (!pixels || !rows) { snprintf(out->message, 160, "out of memory for %ux%u image", w, h); png_longjmp(png, 1); }
    for (uint32_t y = 0; y < h; y++) rows[y] = pixels + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    if (palette && expand_palette(png, info, (uint8_t **)&pixels, (size_t)w * h, &channels, out->message)) png_longjmp(png, 1);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    out->channels = channels;
    out->pixels = pixels;
    return 0;
}

void gb_png_free(gb_png_image *image) { if (image) { free(image->pixels); image->pixels = NULL; } }

typedef struct { uint8_t *data; size_t length, capacity; int failed; } writer_t;

static void write_bytes(png_structp png, png_bytep src, png_size_t n) {
    writer_t *w = (writer_t *)png_get_io_ptr(png);
    if (w->length + n > w->capacity) {
        size_t cap = w->capacity ? w->capacity * 2 : 4096;
        while (cap < w->length + n) cap *= 2;
        uint8_t *grown = (uint8_t *)realloc(w->data, cap);
        if (!grown) png_error(png, "out of memory while encoding");
        w->data = grown; w->capacity = cap;
    }
    memcpy(w->data + w->length, src, n);
    w->length += n;
}
static void flush_bytes(png_structp png) { (void)png; }

int gb_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                  uint8_t **out, size_t *out_length, char *message) {
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    *out = NULL; *out_length = 0;
    if (channels < 1 || channels > 4 || width == 0 || height == 0) { snprintf(message, 160, "cannot encode %ux%u image with %d channels", width, height, channels); return 1; }
    reader_t ctx = {0}; ctx.message = message;
    writer_t w = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (!png) { snprintf(message, 160, "out of memory"); return 1; }
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        free(rows); free(w.data);
        png_destroy_write_struct(&png, &info);
        return 1;
    }
    png_set_write_fn(png, &w, write_bytes, flush_bytes);
    png_set_IHDR(png, info, width, height, 8, types[channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    // zlib level 2 instead of the default 6: `explain` of 4 words wrote its pictures in 1.1 s
    // instead of 1.6 s (the whole command; zlib was 30 % of its samples), files 13 % larger.
    png_set_compression_level(png, 2);
    png_write_info(png, info);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!rows) { snprintf(message, 160, "out of memory"); png_longjmp(png, 1); }
    for (uint32_t y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + (size_t)y * width * channels);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    free(rows);
    png_destroy_write_struct(&png, &info);
    *out = w.data; *out_length = w.length;
    return 0;
}

void gb_png_free_buffer(uint8_t *buffer) { free(buffer); }
