// hourglass-workerproc: the worker that ships the samples (Hello) and the
// kitchen-sink workload used by tests and benchmarks. A user's own worker is
// the same main() linked with their own workflows and activities.

#include "hourglass/worker.h"

int main(int argc, char** argv) { return hourglass::RunWorker(argc, argv); }
