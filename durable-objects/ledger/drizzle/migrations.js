import journal from './meta/_journal.json';
import m0000 from './0000_lovely_felicia_hardy.sql';
import m0001 from './0001_familiar_morbius.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001
    }
  }
  