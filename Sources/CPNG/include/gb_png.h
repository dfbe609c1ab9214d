// A longjmp-free face for libpng: every function owns its setjmp and reports failure as a
// return code plus a message, so a corrupt PNG can never unwind through Swift frames.
#ifndef GB_PNG_H
#define GB_PNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t width, height;
    int channels;          // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (after expansion)
    int source_bit_depth;  // bit depth in the file (1, 2, 4, 8, 16)
    int source_color_type; // PNG_COLOR_TYPE_* of the file
    int interlaced;        // 1 for Adam7
    uint8_t *pixels;       // width*height*channels bytes, 8 bits per sample, row-major
    char message[160];     // reason when a call fails
} gb_png_image;

// Decodes a PNG held in memory to 8-bit samples: palettes become RGB(A), low-bit gray is
// expanded, tRNS becomes alpha, 16-bit is scaled (rounded) to 8, Adam7 is de-interlaced.
// Refuses images with more than max_pixels pixels before allocating. Returns 0 on success;
// on failure returns nonzero, leaves pixels NULL and writes the reason into out->message.
int gb_png_decode(const uint8_t *bytes, size_t length, uint64_t max_pixels, gb_png_image *out);

// Reads only the header (size, color type, bit depth). Same return convention.
int gb_png_read_header(const uint8_t *bytes, size_t length, gb_png_image *out);

// Frees pixels from gb_png_decode (safe on a zeroed or failed image).
void gb_png_free(gb_png_image *image);

// Encodes 8-bit samples (channels 1..4) to a PNG in memory. On success returns 0 and sets
// *out / *out_length (free with gb_png_free_buffer); on failure writes message (160 bytes).
int gb_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                  uint8_t **out, size_t *out_length, char *message);

void gb_png_free_buffer(uint8_t *buffer);
#endif
