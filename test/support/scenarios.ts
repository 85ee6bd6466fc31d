// The scenario handles live in the package's testing kit (@cryb/database/testing), which services use too.
export { seedScenario, type Scenario } from '../../src/testing/scenarios';
