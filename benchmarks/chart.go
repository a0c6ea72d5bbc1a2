package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
)

// drawChart writes a horizontal bar chart of entries/s by contender, with
// the standard library alone: bars are rectangles, and text is drawn with
// the 5x7 pixel font below.
func drawChart(path string, sums []summary) error {
	if len(sums) == 0 {
		return fmt.Errorf("no results to chart")
	}
	const (
		width    = 1100
		scale    = 2  // pixels per font dot
		rowH     = 64 // height of one contender's row
		top      = 110
		labelW   = 260 // left column: contender names
		valueW   = 330 // right of the longest bar: its value
		barLeft  = 20 + labelW
		barRight = width - valueW
	)
	height := top + rowH*len(sums) + 50
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})

	first := sums[0]
	drawText(img, 20, 20, 3, "ENTRIES PER SECOND, UNTIL DELIVERED", color.RGBA{20, 20, 20, 255})
	drawText(img, 20, 58, scale, fmt.Sprintf("%s ENTRIES OF %d B FROM %d GOROUTINES, MEDIAN OF %d RUNS, HIGHER IS BETTER",
		thousands(float64(first.N)), first.EntryBytes, first.Goroutines, first.runs), color.RGBA{90, 90, 90, 255})

	maxRate := 0.0
	for _, s := range sums {
		maxRate = max(maxRate, s.EntriesPerSec)
	}
	var sdk float64
	if s := find(sums, contenderSDK); s != nil {
		sdk = s.EntriesPerSec
	}
	colors := map[string]color.RGBA{
		contenderZapsls: {31, 119, 180, 255},
		contenderSDK:    {255, 127, 14, 255},
		contenderFile:   {127, 127, 127, 255},
	}
	for i, s := range sums {
		y := top + i*rowH
		const nameScale = 3
		drawText(img, 20, y+(rowH-7*nameScale)/2, nameScale, s.Contender, color.RGBA{20, 20, 20, 255})
		barW := int(float64(barRight-barLeft) * s.EntriesPerSec / maxRate)
		c, ok := colors[s.Contender]
		if !ok {
			c = color.RGBA{44, 160, 44, 255}
		}
		fill(img, image.Rect(barLeft, y+10, barLeft+max(barW, 1), y+rowH-10), c)
		label := thousands(s.EntriesPerSec) + "/S"
		if sdk > 0 && s.Contender != contenderSDK {
			label += fmt.Sprintf(" (%.1fX SDK)", s.EntriesPerSec/sdk)
		}
		drawText(img, barLeft+barW+10, y+(rowH-7*scale)/2, scale, label, color.RGBA{20, 20, 20, 255})
	}
	drawText(img, 20, height-30, scale, fmt.Sprintf("%s, GOMAXPROCS %d; THE SLSTEST SERVER RUNS ON THE SAME MACHINE",
		first.GoVersion, first.GoMaxProcs), color.RGBA{120, 120, 120, 255})

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// drawText draws s with its top left corner at (x, y), each font dot a
// square of scale pixels. Letters are drawn upper-case; characters the font
// lacks are left blank.
func drawText(img *image.RGBA, x, y, scale int, s string, c color.RGBA) {
	for _, r := range strings.ToUpper(s) {
		if g, ok := font5x7[r]; ok {
			for row, bits := range g {
				for col := 0; col < 5; col++ {
					if bits[col] == '#' {
						fill(img, image.Rect(x+col*scale, y+row*scale, x+(col+1)*scale, y+(row+1)*scale), c)
					}
				}
			}
		}
		x += 6 * scale
	}
}

// font5x7 is a classic 5x7 dot-matrix font: upper-case letters, digits and
// the punctuation the chart uses.
var font5x7 = map[rune][7]string{
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'/': {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',': {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	':': {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	';': {".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#..."},
	'(': {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')': {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'=': {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'%': {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"},
	'+': {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	'_': {".....", ".....", ".....", ".....", ".....", ".....", "#####"},
}
