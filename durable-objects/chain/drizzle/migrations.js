import journal from './meta/_journal.json';
import m0000 from './0000_bizarre_surge.sql';
import m0001 from './0001_right_orphan.sql';
import m0002 from './0002_short_wrecker.sql';
import m0003 from './0003_gorgeous_legion.sql';
import m0004 from './0004_eager_richard_fisk.sql';
import m0005 from './0005_curious_miek.sql';
import m0006 from './0006_concerned_blur.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002,
m0003,
m0004,
m0005,
m0006
    }
  }
  