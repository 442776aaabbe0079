// Bindings of the grid navigation batches (actions: 0 turn left, 1 turn right, 2 move forward, 3 move back).
#include "grid.hpp"

namespace py = pybind11;
using namespace vldac;

void bind_grid(py::module_& m) {
    bind_vecenv<GridTask<0>>(m, "GridOneRoom", "Batch of grid OneRoom envs: go to the red box in one room.");
    bind_vecenv<GridTask<1>>(m, "GridHallway", "Batch of grid Hallway envs: the red box is at the end.");
    bind_vecenv<GridTask<2>>(m, "GridFourRooms", "Batch of grid FourRooms envs: four rooms joined by doorways.");
    bind_vecenv<GridTask<3>>(m, "GridWallGap", "Batch of grid WallGap envs: through the gap in a wall.");
}
