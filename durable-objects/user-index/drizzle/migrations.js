import journal from './meta/_journal.json';
import m0000 from './0000_colorful_sister_grimm.sql';

  export default {
    journal,
    migrations: {
      m0000
    }
  }
  