import journal from './meta/_journal.json';
import m0000 from './0000_hesitant_toro.sql';
import m0001 from './0001_great_longshot.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001
    }
  }
  