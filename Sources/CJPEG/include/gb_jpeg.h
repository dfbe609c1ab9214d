// A longjmp-free face for libjpeg(-turbo): the decoder owns its setjmp and reports failure as a
// return code plus a message, so a corrupt JPEG can never unwind through Swift frames (the same
// pattern as gb_png.h; NOTES.md "Native libraries").
#ifndef GB_JPEG_H
#define GB_JPEG_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t width, height;  // as stored in the file (before any EXIF orientation)
    int channels;            // 1 gray, 3 RGB (YCbCr, RGB and CMYK/YCCK files all become RGB)
    int source_components;   // components in the file (1, 3 or 4)
    int source_color_space;  // J_COLOR_SPACE of the file (JCS_GRAYSCALE, JCS_YCbCr, JCS_CMYK, …)
    int progressive;         // 1 for a progressive (SOF2) file
    int adobe;               // 1 when the file has an Adobe APP14 marker (CMYK is then stored inverted)
    uint8_t *pixels;         // width*height*channels bytes, row-major
    uint8_t *exif;           // the first APP1 "Exif\0\0" payload after those 6 bytes (a TIFF header), or NULL
    size_t exif_length;
    char message[160];       // reason when a call fails
} gb_jpeg_image;

// Decodes a JPEG held in memory (baseline, extended or progressive; Huffman or arithmetic) to
// 8-bit gray or RGB. Four-component files are read as CMYK and converted to RGB as Pillow's
// convert("RGB") does: with an Adobe marker the samples are inverted first (Pillow's "CMYK;I"),
// then R = (255 − K) − round(C·(255 − K)/255), likewise G from M and B from Y.
// Refuses images with more than max_pixels pixels after reading the header, before allocating
// pixel memory. Data-losing warnings (premature end of file, bad Huffman code, lost sync) are
// failures, not gray fill. Returns 0 on success; on failure returns nonzero, leaves pixels and
// exif NULL and writes the reason into out->message.
int gb_jpeg_decode(const uint8_t *bytes, size_t length, uint64_t max_pixels, gb_jpeg_image *out);

// Frees pixels and exif from gb_jpeg_decode (safe on a zeroed or failed image).
void gb_jpeg_free(gb_jpeg_image *image);
#endif
