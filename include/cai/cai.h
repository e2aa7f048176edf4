/* cai/cai.h — everything public in cai, in one include. */
#ifndef CAI_CAI_H
#define CAI_CAI_H

#include "cai/version.h"
#include "cai/error.h"
#include "cai/logmath.h"
#include "cai/potential.h"
#include "cai/graph.h"
#include "cai/plan.h"
#include "cai/loopy.h"
#include "cai/jtree.h"
#include "cai/meanfield.h"
#include "cai/infer.h"
#include "cai/gauss.h"
#include "cai/lgssm.h"
#include "cai/lqr.h"
#include "cai/mdp.h"
#include "cai/factored.h"
#include "cai/model.h"
#include "cai/formats.h"
#include "cai/json.h"

#endif
