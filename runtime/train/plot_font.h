// What is here: the 5x7 bitmap font the loss plot draws its text with (printable ASCII).
#pragma once

#include <array>
#include <cstdint>

namespace qforge::train {

// Cells are kGlyphWidth x kGlyphHeight: rows 0-6 hold capitals and digits (row 6 is the
// baseline), rows 7-8 hold the descenders of g, j, p, q, y and commas.
inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 9;
inline constexpr int kGlyphAdvance = kGlyphWidth + 1;  // one blank column between letters

// One glyph: rows top to bottom, bit (kGlyphWidth - 1 - x) set where column x is ink.
using Glyph = std::array<std::uint8_t, kGlyphHeight>;

// The glyph of an ASCII character; characters the font lacks get a hollow box.
const Glyph& glyph_for(char c);

// True when `c` has its own glyph (not the hollow box).
bool font_has_glyph(char c);

}  // namespace qforge::train
