// Grid navigation worlds: MiniWorld's Hallway, OneRoom, FourRooms and WallGap ("go to the red box") on a
// tile map, seen first person through an integer raycaster or from above. envs/grid.py is the bit-exact
// Python twin and documents the fixed-point geometry (1 m = 1024 units, a tile is 512 units, headings in
// 15 degree steps, ray parameters compared as fractions).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "render.hpp"
#include "rng.hpp"
#include "vecenv.hpp"

namespace vldac {
namespace grid {

constexpr int kTileShift = 9, kHeadings = 24;
constexpr int64_t kTile = 1 << kTileShift;
constexpr int64_t kAgentR = 410, kBoxHalf = 410, kBoxH = 819, kCamH = 1536, kWallH = 2806, kNear = 1180;
constexpr int64_t kL = 16384, kTanNum = 780, kTanDen = 1351;
constexpr int64_t kStepCos[7] = {154, 149, 133, 109, 77, 40, 0};
constexpr int64_t kUnitCos[7] = {16384, 15826, 14189, 11585, 8192, 4240, 0};
enum Action { kTurnLeft = 0, kTurnRight = 1, kMoveForward = 2, kMoveBack = 3 };

// (cos, sin) of heading k in [0, 24), scaled as `table`.
inline void rotate(const int64_t* table, int k, int64_t& c, int64_t& s) {
    c = table[k % 6], s = table[6 - k % 6];
    for (int q = 0; q < k / 6; ++q) {
        const int64_t t = c;
        c = -s, s = t;
    }
}

inline int64_t floor_div(int64_t a, int64_t b) {  // b > 0
    const int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// Smallest row y in [0, h] whose centre offset from the horizon, e = 2y + 1 - h half pixels, has e * b >= x
// (b > 0); rows are monotone in e, so this turns the Python twin's per-row tests into two divisions.
inline int first_row(int64_t x, int64_t b, int h) {
    return static_cast<int>(std::clamp<int64_t>(ceil_div(ceil_div(x, b) + h - 1, 2), 0, h));
}

struct Rect {
    int x0, y0, x1, y1;  // tiles, ends exclusive
    int64_t area() const { return int64_t(x1 - x0) * (y1 - y0); }
};

// A task's map and placement rules (the same table as TASKS in envs/grid.py, in the same order).
struct Layout {
    int tiles_w, tiles_h;
    std::vector<Rect> carve, box_regions, agent_regions;
    int heading_lo, heading_n;
    bool outdoor;
    std::vector<uint8_t> walls;  // (tiles_h, tiles_w), 1 = wall

    Layout(int w, int h, std::vector<Rect> carve_, std::vector<Rect> box, std::vector<Rect> agent, int lo, int n,
           bool out)
        : tiles_w(w), tiles_h(h), carve(std::move(carve_)), box_regions(std::move(box)),
          agent_regions(std::move(agent)), heading_lo(lo), heading_n(n), outdoor(out), walls(size_t(w) * h, 1) {
        for (const Rect& r : carve)
            for (int y = r.y0; y < r.y1; ++y)
                for (int x = r.x0; x < r.x1; ++x) walls[size_t(y) * w + x] = 0;
    }
    bool wall(int64_t tx, int64_t ty) const { return walls[size_t(ty) * tiles_w + size_t(tx)]; }
};

inline const std::vector<Layout>& layouts() {
    static const std::vector<Rect> rooms4 = {{1, 17, 13, 29}, {17, 17, 29, 29}, {17, 1, 29, 13}, {1, 1, 13, 13}};
    static const std::vector<Rect> doors4 = {{13, 21, 17, 25}, {21, 13, 25, 17}, {13, 5, 17, 9}, {5, 13, 9, 17}};
    static const std::vector<Layout> table = [] {
        std::vector<Rect> carve4 = rooms4;
        carve4.insert(carve4.end(), doors4.begin(), doors4.end());
        return std::vector<Layout>{
            {22, 22, {{1, 1, 21, 21}}, {{1, 1, 21, 21}}, {{1, 1, 21, 21}}, 0, 24, false},          // oneroom
            {26, 10, {{1, 1, 25, 9}}, {{21, 1, 25, 9}}, {{1, 1, 21, 9}}, -3, 7, false},            // hallway
            {30, 30, carve4, rooms4, rooms4, 0, 24, false},                                         // fourrooms
            {30, 34, {{1, 18, 29, 33}, {1, 1, 29, 16}, {12, 16, 18, 18}}, {{1, 1, 29, 16}}, {{1, 18, 29, 33}}, 0,
             24, true},                                                                             // wallgap
        };
    }();
    return table;
}

// Colours, [indoor, outdoor] where they differ.
constexpr Rgb kSky[2] = {{165, 165, 160}, {64, 209, 255}};
constexpr Rgb kFloor[2] = {{105, 100, 95}, {70, 70, 75}};
constexpr Rgb kWall[2][2] = {{{215, 205, 185}, {170, 160, 145}}, {{165, 92, 70}, {132, 72, 55}}};  // across x, y
constexpr Rgb kBoxSide[2] = {{225, 35, 35}, {175, 25, 25}}, kBoxTop{255, 120, 120};
constexpr Rgb kMapOutside{0, 0, 0}, kAgent{40, 90, 230}, kAgentNose{255, 215, 0};

inline void put(uint8_t* p, Rgb c) { p[0] = c.r, p[1] = c.g, p[2] = c.b; }

}  // namespace grid

struct Grid {
    static constexpr int kNumActions = 4;

    struct Config {
        int image_size = 80, height = 60;  // frame width and height (4:3, MiniWorld's 80x60 by default)
        int task = 0, max_steps = 128;
        int shaping = 0;  // reward per metre of progress towards the box, in hundredths (0: the sparse reward only)
        bool top_down = false;
    };
    static Config configure(Options options, int task) {
        Config c;
        c.task = task;
        c.image_size = static_cast<int>(take_option(options, "image_size", 80, kMinImageSize, kMaxImageSize));
        c.height = c.image_size * 3 / 4;
        c.max_steps = static_cast<int>(take_option(options, "max_steps", 128, 1, 100000));
        c.top_down = take_option(options, "top_down", 0, 0, 1) != 0;
        c.shaping = static_cast<int>(take_option(options, "shaping", 0, 0, 1000));
        no_more_options(options);
        return c;
    }

    // The static layer of each frame: first person, the sky (or ceiling) above the horizon and the floor below
    // (the Python twin's e < 0 rows); top down, the map (walls and floor, letterboxed).
    struct Art {
        Sprite background;
        explicit Art(const Config& c) : background(c.image_size, c.height, grid::kMapOutside) {
            const int out = grid::layouts()[c.task].outdoor;
            if (c.top_down) {
                Grid(c).draw_map(background.view());
            } else {
                fill_rect(background.view(), 0, 0, c.image_size, c.height, grid::kFloor[out]);
                fill_rect(background.view(), 0, 0, c.image_size, c.height / 2, grid::kSky[out]);
            }
        }
    };

    Config config;
    const grid::Layout* layout;
    int64_t ax = 0, ay = 0, bx = 0, by = 0;
    int heading = 0, t = 0;

    explicit Grid(const Config& c) : config(c), layout(&grid::layouts()[c.task]) {}

    // --- dynamics
    void place(Rng& rng, const std::vector<grid::Rect>& regions, int64_t& x, int64_t& y) const {
        int64_t total = 0;
        for (const auto& r : regions) total += r.area();
        int64_t pick = static_cast<int64_t>(rng.below(static_cast<uint64_t>(total)));
        size_t k = 0;
        while (pick >= regions[k].area()) pick -= regions[k++].area();
        const grid::Rect& r = regions[k];
        using grid::kAgentR, grid::kTile;
        x = r.x0 * kTile + kAgentR + static_cast<int64_t>(rng.below(uint64_t((r.x1 - r.x0) * kTile - 2 * kAgentR + 1)));
        y = r.y0 * kTile + kAgentR + static_cast<int64_t>(rng.below(uint64_t((r.y1 - r.y0) * kTile - 2 * kAgentR + 1)));
    }

    void reset(Rng& rng) {
        place(rng, layout->box_regions, bx, by);
        do place(rng, layout->agent_regions, ax, ay);
        while (near());
        const int64_t turn = static_cast<int64_t>(rng.below(static_cast<uint64_t>(layout->heading_n)));
        heading = static_cast<int>((layout->heading_lo + turn + grid::kHeadings) % grid::kHeadings);
        t = 0;
    }

    bool succeeded() const { return near(); }  // shaped rewards can add up to more than 0 without reaching the box
    bool near() const { return (ax - bx) * (ax - bx) + (ay - by) * (ay - by) < grid::kNear * grid::kNear; }

    bool collides(int64_t x, int64_t y) const {
        using grid::kAgentR, grid::kTile, grid::kTileShift;
        for (int64_t ty = (y - kAgentR) >> kTileShift; ty <= (y + kAgentR) >> kTileShift; ++ty)
            for (int64_t tx = (x - kAgentR) >> kTileShift; tx <= (x + kAgentR) >> kTileShift; ++tx) {
                if (!layout->wall(tx, ty)) continue;
                const int64_t cx = std::clamp(x, tx * kTile, tx * kTile + kTile);
                const int64_t cy = std::clamp(y, ty * kTile, ty * kTile + kTile);
                if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < kAgentR * kAgentR) return true;
            }
        return false;
    }

    double box_distance() const {  // in units, correctly rounded (the Python twin's math.sqrt)
        return std::sqrt(static_cast<double>((ax - bx) * (ax - bx) + (ay - by) * (ay - by)));
    }

    StepResult step(int action, Rng&) {
        const double before = config.shaping ? box_distance() : 0.0;
        ++t;
        if (action == grid::kTurnLeft || action == grid::kTurnRight) {
            heading = (heading + (action == grid::kTurnLeft ? 1 : grid::kHeadings - 1)) % grid::kHeadings;
        } else {
            int64_t dx, dy;
            grid::rotate(grid::kStepCos, heading, dx, dy);
            if (action == grid::kMoveBack) dx = -dx, dy = -dy;
            if (!collides(ax + dx, ay + dy)) ax += dx, ay += dy;
        }
        StepResult r;
        double reward = 0.0;
        if (near()) {
            reward = 1.0 - 0.2 * t / config.max_steps;
            r.terminated = true;
        } else {
            r.truncated = t >= config.max_steps;
        }
        if (config.shaping) reward += config.shaping / 100.0 * (before - box_distance()) / 1024.0;
        r.reward = static_cast<float>(reward);
        return r;
    }

    // --- rendering
    void draw(const Art& art, Image frame) const {
        std::memcpy(frame.px, art.background.px.data(), art.background.px.size());
        if (config.top_down) draw_top_down(frame);
        else draw_first_person(frame);
    }

    // Where the ray (ax, ay) + t (rx, ry) leaves the floor, t = num / den, side 0 for a wall face across x: it
    // walks from carve rectangle to the one that continues past its exit point (envs/grid.py's _cast).
    void cast(int64_t rx, int64_t ry, int64_t& num, int64_t& den, int& side) const {
        using grid::kTile;
        const std::vector<grid::Rect>& carve = layout->carve;
        const grid::Rect* rect = &carve[0];
        for (const grid::Rect& r : carve)
            if (r.x0 * kTile <= ax && ax <= r.x1 * kTile && r.y0 * kTile <= ay && ay <= r.y1 * kTile) {
                rect = &r;
                break;
            }
        for (;;) {
            const int64_t x0 = rect->x0 * kTile, y0 = rect->y0 * kTile, x1 = rect->x1 * kTile, y1 = rect->y1 * kTile;
            const int64_t nx = rx > 0 ? x1 - ax : ax - x0, dx = rx > 0 ? rx : -rx;
            const int64_t ny = ry > 0 ? y1 - ay : ay - y0, dy = ry > 0 ? ry : -ry;
            int64_t edge, cross;
            bool forward;
            if (dy == 0 || (dx != 0 && nx * dy <= ny * dx)) {
                num = nx, den = dx, side = 0, edge = rx > 0 ? x1 : x0, cross = ay * dx + ry * nx, forward = rx > 0;
            } else {
                num = ny, den = dy, side = 1, edge = ry > 0 ? y1 : y0, cross = ax * dy + rx * ny, forward = ry > 0;
            }
            const grid::Rect* next = nullptr;
            for (const grid::Rect& r : carve) {
                const int64_t start = side == 0 ? (forward ? r.x0 : r.x1) : (forward ? r.y0 : r.y1);
                const int64_t lo = side == 0 ? r.y0 : r.x0, hi = side == 0 ? r.y1 : r.x1;
                if (start * kTile == edge && lo * kTile * den < cross && cross < hi * kTile * den) {
                    next = &r;
                    break;
                }
            }
            if (!next) return;
            rect = next;
        }
    }

    // Where the ray enters (n1/d1) and leaves (n2/d2) the box square; false when it misses or the box is behind.
    bool box_hit(int64_t rx, int64_t ry, int64_t& n1, int64_t& d1, int64_t& n2, int64_t& d2, int& side) const {
        bool any = false;
        const int64_t p[2] = {ax, ay}, r[2] = {rx, ry}, b[2] = {bx, by};
        for (int axis = 0; axis < 2; ++axis) {
            const int64_t lo = b[axis] - grid::kBoxHalf - p[axis], hi = b[axis] + grid::kBoxHalf - p[axis];
            if (r[axis] == 0) {
                if (lo < 0 && 0 < hi) continue;
                return false;
            }
            const int64_t near_n = r[axis] > 0 ? lo : -hi, far_n = r[axis] > 0 ? hi : -lo;
            const int64_t d = r[axis] > 0 ? r[axis] : -r[axis];
            if (!any || near_n * d1 > n1 * d) n1 = near_n, d1 = d, side = axis;
            if (!any || far_n * d2 < n2 * d) n2 = far_n, d2 = d;
            any = true;
        }
        return n1 > 0 && n1 * d2 < n2 * d1;
    }

    // Over the sky/floor background: per column the wall rows [top, bottom), then the box rows (the box is in
    // front). The rows every column's wall covers are copied whole from one row of wall colours; the rest is
    // written per column, only where it differs from the background (each row of a column is another cache
    // line, so the whole-row copies are the cheap part).
    void draw_first_person(Image frame) const {
        using namespace grid;
        const int W = frame.w, H = frame.h, out = layout->outdoor;
        const size_t stride = size_t(W) * 3;
        int64_t c, s;
        rotate(kUnitCos, heading, c, s);
        int top[kMaxImageSize], bottom[kMaxImageSize], box_top[kMaxImageSize], box_edge[kMaxImageSize],
            box_bottom[kMaxImageSize], box_face[kMaxImageSize];
        uint8_t wall_row[kMaxImageSize * 3];
        int core_top = 0, core_bottom = H;
        for (int col = 0; col < W; ++col) {
            const int64_t k = 2 * col + 1 - W;
            const int64_t rx = kTanDen * H * c + k * kTanNum * s, ry = kTanDen * H * s - k * kTanNum * c;
            int64_t num = 0, den = 1, n1 = 0, d1 = 1, n2 = 0, d2 = 1;
            int side = 0;
            cast(rx, ry, num, den, side);
            const int64_t b = 2 * kTanNum * kL * num;
            top[col] = first_row(-2 * (kWallH - kCamH) * den, b, H), bottom[col] = first_row(2 * kCamH * den, b, H);
            core_top = std::max(core_top, top[col]), core_bottom = std::min(core_bottom, bottom[col]);
            std::memcpy(wall_row + col * 3, &kWall[out][side], 3);
            box_face[col] = -1;  // no box in this column
            int face = 0;
            if (box_hit(rx, ry, n1, d1, n2, d2, face) && n1 * den < num * d1) {
                box_face[col] = face;
                const int64_t b1 = 2 * kTanNum * kL * n1, b2 = 2 * kTanNum * kL * n2;
                box_top[col] = first_row(2 * (kCamH - kBoxH) * d2, b2, H);
                box_edge[col] = first_row(2 * (kCamH - kBoxH) * d1, b1, H);
                box_bottom[col] = first_row(2 * kCamH * d1, b1, H);
            }
        }
        for (int y = core_top; y < core_bottom; ++y) std::memcpy(frame.px + y * stride, wall_row, stride);
        auto fill = [&](int col, int y0, int y1, const void* color) {
            for (uint8_t* p = frame.px + y0 * stride + col * 3; y0 < y1; ++y0, p += stride) std::memcpy(p, color, 3);
        };
        for (int col = 0; col < W; ++col) {
            const uint8_t* wall = wall_row + col * 3;
            if (core_top < core_bottom) {
                fill(col, top[col], core_top, wall);
                fill(col, core_bottom, bottom[col], wall);
            } else {
                fill(col, top[col], bottom[col], wall);
            }
            if (box_face[col] >= 0) {
                fill(col, box_top[col], box_edge[col], &kBoxTop);
                fill(col, box_edge[col], box_bottom[col], &kBoxSide[box_face[col]]);
            }
        }
    }

    // Top down, pixel centres map to doubled world coordinates (the map scaled by an integer number of units
    // per pixel, centred, north up): the map (in Art), then the box square, then the agent's disc with its
    // front third in the nose colour. Box and disc are separable in x and y: only their bounding ranges are
    // visited.
    int64_t map_w() const { return layout->tiles_w * grid::kTile; }
    int64_t map_h() const { return layout->tiles_h * grid::kTile; }
    int64_t map_x2(int u, int W, int64_t scale) const { return map_w() + (2 * u + 1 - W) * scale; }
    int64_t map_y2(int v, int H, int64_t scale) const { return map_h() - (2 * v + 1 - H) * scale; }
    int64_t map_scale(int W, int H) const { return std::max(grid::ceil_div(map_w(), W), grid::ceil_div(map_h(), H)); }

    void draw_map(Image frame) const {
        using namespace grid;
        const int64_t scale = map_scale(frame.w, frame.h);
        for (int v = 0; v < frame.h; ++v)
            for (int u = 0; u < frame.w; ++u) {
                const int64_t x = map_x2(u, frame.w, scale), y = map_y2(v, frame.h, scale);
                if (x < 0 || x >= 2 * map_w() || y < 0 || y >= 2 * map_h()) continue;
                const int out = layout->outdoor;
                const bool wall = layout->wall(x >> (kTileShift + 1), y >> (kTileShift + 1));
                put(frame.px + (size_t(v) * frame.w + u) * 3, wall ? kWall[out][1] : kFloor[out]);
            }
    }

    void draw_top_down(Image frame) const {
        using namespace grid;
        const int W = frame.w, H = frame.h;
        const int64_t scale = map_scale(W, H);
        auto span = [&](int n, bool vertical, int64_t centre2, int64_t half2, int& lo, int& hi) {
            lo = n, hi = 0;
            for (int i = 0; i < n; ++i)
                if (std::abs((vertical ? map_y2(i, H, scale) : map_x2(i, W, scale)) - centre2) < half2)
                    lo = std::min(lo, i), hi = i + 1;
        };
        int u0, u1, v0, v1;
        span(W, false, 2 * bx, 2 * kBoxHalf, u0, u1);
        span(H, true, 2 * by, 2 * kBoxHalf, v0, v1);
        for (int v = v0; v < v1; ++v) fill_rect(frame, u0, v, u1 - u0, 1, kBoxSide[0]);
        int64_t c, s;
        rotate(kUnitCos, heading, c, s);
        span(W, false, 2 * ax, 2 * kAgentR, u0, u1);
        span(H, true, 2 * ay, 2 * kAgentR, v0, v1);
        for (int v = v0; v < v1; ++v)
            for (int u = u0; u < u1; ++u) {
                const int64_t dx = map_x2(u, W, scale) - 2 * ax, dy = map_y2(v, H, scale) - 2 * ay;
                if (dx * dx + dy * dy >= 4 * kAgentR * kAgentR) continue;
                const bool nose = 3 * (dx * c + dy * s) > 2 * kAgentR * kL;  // the front third of the disc
                put(frame.px + (size_t(v) * W + u) * 3, nose ? kAgentNose : kAgent);
            }
    }

    std::string text() const { return {}; }

    // [ax, ay, heading, bx, by, t]; set_state checks what envs/grid.py's set_state checks.
    std::vector<int64_t> state() const { return {ax, ay, heading, bx, by, t}; }
    void set_state(const std::vector<int64_t>& st) {
        using grid::kTile;
        auto check = [](bool ok, const char* what) {
            if (!ok) throw std::invalid_argument(std::string("grid state: ") + what);
        };
        check(st.size() == 6, "expected [ax, ay, heading, bx, by, t]");
        const int64_t w = layout->tiles_w * kTile, h = layout->tiles_h * kTile, m = kTile + grid::kAgentR;
        check(st[0] >= m && st[0] <= w - m && st[1] >= m && st[1] <= h - m && st[2] >= 0 && st[2] < grid::kHeadings,
              "agent position or heading out of range");
        check(st[3] >= m && st[3] <= w - m && st[4] >= m && st[4] <= h - m && st[5] >= 0 && st[5] < config.max_steps,
              "box position or step count out of range");
        const int64_t dx = st[0] - st[3], dy = st[1] - st[4];
        check(!collides(st[0], st[1]) && dx * dx + dy * dy >= grid::kNear * grid::kNear,
              "the agent overlaps a wall or has already reached the box");
        ax = st[0], ay = st[1], heading = static_cast<int>(st[2]), bx = st[3], by = st[4], t = static_cast<int>(st[5]);
    }
};

// One batch class per task (index into grid::layouts()), so Python picks the task by class name.
template <int kTask>
struct GridTask : Grid {
    static Config configure(Options options) { return Grid::configure(std::move(options), kTask); }
    explicit GridTask(const Config& c) : Grid(c) {}
};

}  // namespace vldac
